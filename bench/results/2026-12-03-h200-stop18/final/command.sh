# Device call 4 (2026-12-03 stop 18): all five GGUF shapes beside llama.cpp at the final commit, then decode anatomies (base 870d863 against it).
set -u
T0=$(date +%s)
D=${DEADLINE:-560}
left() { echo $(( D - ($(date +%s) - T0) )); }
pack() { tar czf $OUT/f.tgz -C /tmp f; }
. bench/gpu/enter.sh || exit 1
R=/tmp/f; rm -rf $R; mkdir -p $R
C=${COMMIT:-unknown}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw --format=csv > $R/gpu-before.txt 2>&1
OUT=$R/vs timeout $(( D - 120 )) bash bench/vs-llamacpp.sh --commit $C --models qwen2.5-1.5b:q4_0,llama-3.2-1b:q4_0,qwen3-30b-a3b:q4_0,deepseek-v2-lite:q4_0,qwen2.5-1.5b:q8_0 --rounds 1 > $R/vs.txt 2>&1
echo "vs done at $(( $(date +%s) - T0 )) s" >> $R/times.txt; pack
an() { timeout $5 node $1/bench/decodeAnatomy.js --reps 5 --shape $2 --dtype $3 --contexts 128,4096 > $4 2>&1; }
if [ $(left) -gt 90 ]; then an .ab-base/dist deepseek-v2-lite q4_0 $R/ds-base.txt 40; an dist deepseek-v2-lite q4_0 $R/ds-new.txt 40; fi
echo "ds done at $(( $(date +%s) - T0 )) s" >> $R/times.txt; pack
if [ $(left) -gt 30 ]; then an .ab-base/dist qwen2.5-1.5b q4_0 $R/q4-base.txt 12; an dist qwen2.5-1.5b q4_0 $R/q4-new.txt 12; fi
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw --format=csv > $R/gpu-after.txt 2>&1
echo "all done at $(( $(date +%s) - T0 )) s" >> $R/times.txt; pack
cat $R/times.txt; grep -E "round|wrote" $R/vs.txt | head -24; cat $R/vs/vs-llamacpp.md; for f in $R/*.txt; do echo "== $f"; grep -E "^context" $f | cut -c1-110; done
