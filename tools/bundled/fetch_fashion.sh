#!/usr/bin/env bash
# Fetches Fashion-MNIST for models/tiny-fashion-vlm from Debian (`dataset-fashion-mnist`, apt-get download +
# dpkg -x) into .cache/bundled/raw/deb/dataset-fashion-mnist (git-ignored), then packs the training
# subsample the device run carries. models/tiny-fashion-vlm/DATA.md records the license.
#
#   bash tools/bundled/fetch_fashion.sh        # then python3 tools/bundled/fashion_data.py (see its header)
set -euo pipefail
cd "$(dirname "$0")/../.."
RAW=.cache/bundled/raw/deb
P=dataset-fashion-mnist
mkdir -p "$RAW"
if [ ! -d "$RAW/$P" ]; then
  (cd "$RAW" && apt-get download "$P")
  mkdir -p "$RAW/$P" && dpkg -x "$RAW/${P}"_*.deb "$RAW/$P" && rm "$RAW/${P}"_*.deb
fi
find "$RAW/$P" -type f | sort
echo "$P (Debian) copyright: $(ls "$RAW/$P"/usr/share/doc/*/copyright)"
