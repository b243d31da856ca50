# Device call 3 (2026-12-03 stop 18): the attention merge in o_proj (parallel), the first unit preloaded, DeepSeek's shared expert folded (.ab-new, a299353) against the base (.ab-base, 870d863), alternating.
set -u
T0=$(date +%s)
D=${DEADLINE:-240}
left() { echo $(( D - ($(date +%s) - T0) )); }
pack() { tar czf $OUT/m.tgz -C /tmp m; }
. bench/gpu/enter.sh || exit 1
R=/tmp/m; rm -rf $R; mkdir -p $R
t() { echo "$1 at $(( $(date +%s) - T0 )) s" >> $R/times.txt; pack; }
an() { timeout 80 node $1/dist/bench/decodeAnatomy.js --reps ${5:-10} --shape $2 --dtype $3 --contexts 128,4096 ${4:+--overrides "$4"}; }
for i in 1 2; do
  an .ab-base qwen2.5-1.5b q4_0 > $R/q4-base-$i.txt 2>&1
  an .ab-new qwen2.5-1.5b q4_0 > $R/q4-new-$i.txt 2>&1
  an .ab-new qwen2.5-1.5b q4_0 '{"attention":{"mergeLater":false}}' > $R/q4-nomerge-$i.txt 2>&1
  t "q4 $i"
done
an .ab-base llama-3.2-1b q4_0 > $R/l1-base.txt 2>&1
an .ab-new llama-3.2-1b q4_0 > $R/l1-new.txt 2>&1
t l1
an .ab-base deepseek-v2-lite q4_0 "" 5 > $R/ds-base.txt 2>&1
t dsb
an .ab-new deepseek-v2-lite q4_0 "" 5 > $R/ds-new.txt 2>&1
t dsn
cat $R/times.txt; for f in $R/*.txt; do echo "== $f"; grep -E "^context" $f | cut -c1-110; done
