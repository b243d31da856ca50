# Device call (2026-12-03): all five GGUF shapes beside llama.cpp, then the load A/B and the Q8_0 anatomy if time is left.
set -u
T0=$(date +%s)
D=${DEADLINE:-575}
left() { echo $(( D - ($(date +%s) - T0) )); }
pack() { tar czf $OUT/r.tgz -C /tmp r; }
. bench/gpu/enter.sh || exit 1
R=/tmp/r; rm -rf $R; mkdir -p $R
C=${COMMIT:-unknown}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw --format=csv > $R/gpu-before.txt 2>&1
OUT=$R/vs timeout $(( D - 105 )) bash bench/vs-llamacpp.sh --commit $C --models qwen2.5-1.5b:q4_0,llama-3.2-1b:q4_0,qwen3-30b-a3b:q4_0,deepseek-v2-lite:q4_0,qwen2.5-1.5b:q8_0 --rounds 1 > $R/vs.txt 2>&1
echo "vs done at $(( $(date +%s) - T0 )) s" >> $R/times.txt; pack
if [ $(left) -gt 70 ]; then timeout $(( $(left) - 40 )) node dist/bench/loadProfile.js --models qwen3-30b-a3b@8:q4_0 --configs staged,queue --reps 1 --out $R/load > $R/load.txt 2>&1; fi
echo "load done at $(( $(date +%s) - T0 )) s" >> $R/times.txt; pack
if [ $(left) -gt 45 ]; then timeout $(( $(left) - 15 )) node dist/bench/decodeAnatomy.js --reps 10 --shape qwen2.5-1.5b --dtype q8_0 --contexts 4096 > $R/anatomy-1.5b-q8_0.txt 2>&1; fi
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw --format=csv > $R/gpu-after.txt 2>&1
pack
cat $R/times.txt; grep -E "round|wrote" $R/vs.txt | head -20; tail -4 $R/load.txt 2>/dev/null
