# Device call 5 (2026-12-03 stop 18): decode through the replayed engine path at 4,096 (decodeBench), base 870d863 against 435ba87, alternating.
set -u
T0=$(date +%s)
pack() { tar czf $OUT/d.tgz -C /tmp d; }
. bench/gpu/enter.sh || exit 1
R=/tmp/d; rm -rf $R; mkdir -p $R
db() { timeout 28 node $1/bench/decodeBench.js --shape $2 --dtype q4_0 --prompt 128 --decode 64 --contexts 128,4096 > $3 2>&1; echo "$3 at $(( $(date +%s) - T0 )) s" >> $R/times.txt; pack; }
db .ab-base/dist llama-3.2-1b $R/l1-base.txt
db dist llama-3.2-1b $R/l1-new.txt
db .ab-base/dist llama-3.2-1b $R/l1-base2.txt
db dist llama-3.2-1b $R/l1-new2.txt
cat $R/times.txt; tail -n 4 $R/*.txt
