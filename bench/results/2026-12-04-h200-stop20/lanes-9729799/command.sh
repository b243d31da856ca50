# Device call (2026-12-04 stop 20): MoE gate|up lanes per row, 32 (default) / 16 / 8, alternating, decode anatomy at 128 and 4096.
set -u
T0=$(date +%s)
pack() { tar czf $OUT/f.tgz -C /tmp f; }
. bench/gpu/enter.sh || exit 1
R=/tmp/f; rm -rf $R; mkdir -p $R
an() { echo "== $1 lanes $2" >> $R/lanes.txt; timeout $3 node dist/bench/decodeAnatomy.js --reps 5 --shape $1 --dtype q4_0 --contexts 128,4096 --overrides "{\"moeDecode\":{\"gateUpLanes\":$2}}" 2>&1 | grep -E '^context|moeDecodeGateUp' | cut -c1-130 >> $R/lanes.txt; echo "$1 $2 at $(( $(date +%s) - T0 )) s" >> $R/times.txt; pack; }
for L in 32 16 8 32 16; do an deepseek-v2-lite $L 40; done
for L in 32 16 32 16; do [ $(( 560 - ($(date +%s) - T0) )) -gt 70 ] && an qwen3-30b-a3b $L 70; done
pack; cat $R/times.txt; cat $R/lanes.txt
