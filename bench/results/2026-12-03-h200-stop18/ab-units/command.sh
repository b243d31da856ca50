# Device call 2 (2026-12-03 stop 18): decode GEMV U units a step + attention merge in o_proj (.ab-new, 9626627) against the base (.ab-base, 870d863), alternating.
set -u
T0=$(date +%s)
D=${DEADLINE:-330}
left() { echo $(( D - ($(date +%s) - T0) )); }
pack() { tar czf $OUT/u.tgz -C /tmp u; }
. bench/gpu/enter.sh || exit 1
R=/tmp/u; rm -rf $R; mkdir -p $R
t() { echo "$1 at $(( $(date +%s) - T0 )) s" >> $R/times.txt; pack; }
an() { timeout 40 node $1/dist/bench/decodeAnatomy.js --reps 10 --shape $2 --dtype $3 --contexts 128,4096 ${4:+--overrides "$4"}; }
for i in 1 2; do
  an .ab-base qwen2.5-1.5b q4_0 > $R/q4-base-$i.txt 2>&1
  an .ab-new qwen2.5-1.5b q4_0 > $R/q4-new-$i.txt 2>&1
  t "q4 $i"
done
an .ab-new qwen2.5-1.5b q4_0 '{"attention":{"mergeLater":false}}' > $R/q4-nomerge.txt 2>&1
an .ab-new qwen2.5-1.5b q4_0 '{"gemv":{"units":1}}' > $R/q4-u1.txt 2>&1
an .ab-base qwen2.5-1.5b q8_0 > $R/q8-base.txt 2>&1
an .ab-new qwen2.5-1.5b q8_0 > $R/q8-new.txt 2>&1
t q8
an .ab-base llama-3.2-1b q4_0 > $R/l1-base.txt 2>&1
an .ab-new llama-3.2-1b q4_0 > $R/l1-new.txt 2>&1
t l1
if [ $(left) -gt 110 ]; then timeout 60 node .ab-base/dist/bench/decodeAnatomy.js --reps 5 --shape qwen3-30b-a3b --dtype q4_0 --contexts 128,4096 > $R/a30-base.txt 2>&1; fi
if [ $(left) -gt 50 ]; then timeout 60 node .ab-new/dist/bench/decodeAnatomy.js --reps 5 --shape qwen3-30b-a3b --dtype q4_0 --contexts 128,4096 > $R/a30-new.txt 2>&1; fi
t a30
cat $R/times.txt; for f in $R/*.txt; do echo "== $f"; grep -E "^context" $f | cut -c1-120; done
