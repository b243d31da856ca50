# Device call 1 (2026-12-03 stop 18): where the misses stand, before building. Anatomies, the 30B's long prefill, load memory split.
set -u
T0=$(date +%s)
D=${DEADLINE:-430}
left() { echo $(( D - ($(date +%s) - T0) )); }
pack() { tar czf $OUT/e.tgz -C /tmp e; }
. bench/gpu/enter.sh || exit 1
R=/tmp/e; rm -rf $R; mkdir -p $R
t() { echo "$1 at $(( $(date +%s) - T0 )) s" >> $R/times.txt; pack; }
A=dist/bench/decodeAnatomy.js
timeout 40 node $A --reps 10 --shape qwen2.5-1.5b --dtype q4_0 --contexts 128,4096 > $R/q15.txt 2>&1
timeout 30 node $A --reps 10 --shape qwen2.5-1.5b --dtype q4_0 --contexts 128 --overrides '{"attention":{"targetWorkgroups":6}}' > $R/q15-direct.txt 2>&1
timeout 30 node $A --reps 10 --shape qwen2.5-1.5b --dtype q4_0 --contexts 128 --overrides '{"attention":{"targetWorkgroups":12}}' > $R/q15-tw12.txt 2>&1
t dense
timeout 80 node $A --reps 5 --shape deepseek-v2-lite --dtype q4_0 --contexts 128,4096 > $R/dsv2.txt 2>&1
t dsv2
if [ $(left) -gt 150 ]; then timeout 100 node dist/bench/prefillAnatomy.js --shape qwen3-30b-a3b --dtype q4_0 --tokens 4096 --chunk 512,2048 --reps 1 --out $R/pre30.json > $R/pre30.txt 2>&1; fi
t pre30
if [ $(left) -gt 70 ]; then timeout $(( $(left) - 15 )) node dist/bench/loadProfile.js --models qwen2.5-1.5b:q4_0,deepseek-v2-lite:q4_0 --configs staged --reps 2 --out $R/load > $R/load.txt 2>&1; fi
t load
cat $R/times.txt; for f in $R/q15*.txt $R/dsv2.txt; do echo "== $f"; head -14 $f | cut -c1-120; done; grep -v "^ " $R/pre30.txt | head -30; tail -4 $R/load/summary.md
