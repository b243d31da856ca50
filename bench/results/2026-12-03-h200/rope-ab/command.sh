# Device call 3 (2026-12-03): decode attention with RoPE fused (default) against ropeKv + attention, same machine, alternating.
set -u
T0=$(date +%s)
D=${DEADLINE:-220}
left() { echo $(( D - ($(date +%s) - T0) )); }
pack() { tar czf $OUT/r3.tgz -C /tmp r3; }
. bench/gpu/enter.sh || exit 1
R=/tmp/r3; rm -rf $R; mkdir -p $R
U='{"attention":{"fuseRope":false}}'
for i in 1 2; do
  timeout 40 node dist/bench/decodeAnatomy.js --reps 10 --shape qwen2.5-1.5b --dtype q4_0 --contexts 128,4096 > $R/q4-fused-$i.txt 2>&1
  timeout 40 node dist/bench/decodeAnatomy.js --reps 10 --shape qwen2.5-1.5b --dtype q4_0 --contexts 128,4096 --overrides "$U" > $R/q4-apart-$i.txt 2>&1
  pack
done
echo "dense done at $(( $(date +%s) - T0 )) s" >> $R/times.txt
if [ $(left) -gt 60 ]; then timeout $(( ($(left) - 10) / 2 )) node dist/bench/decodeAnatomy.js --reps 5 --shape qwen3-30b-a3b --dtype q4_0 --contexts 128,4096 > $R/a30-fused.txt 2>&1; fi
if [ $(left) -gt 30 ]; then timeout $(( $(left) - 10 )) node dist/bench/decodeAnatomy.js --reps 5 --shape qwen3-30b-a3b --dtype q4_0 --contexts 128,4096 --overrides "$U" > $R/a30-apart.txt 2>&1; fi
echo "moe done at $(( $(date +%s) - T0 )) s" >> $R/times.txt
pack
cat $R/times.txt; for f in $R/*.txt; do echo "== $f"; grep -E "^context|attentionDecode|ropeKv" $f | cut -c1-110; done
