# Device call (2026-12-04 stop 20): five GGUF shapes beside llama.cpp at COMMIT (poll throttle + prepareDecode), then
# DeepSeek-V2-Lite decode anatomies under MoE decode overrides.
set -u
T0=$(date +%s)
pack() { tar czf $OUT/f.tgz -C /tmp f; }
. bench/gpu/enter.sh || exit 1
R=/tmp/f; rm -rf $R; mkdir -p $R
C=${COMMIT:-unknown}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw --format=csv > $R/gpu-before.txt 2>&1
OUT=$R/vs timeout 400 bash bench/vs-llamacpp.sh --commit $C --models qwen2.5-1.5b:q4_0,llama-3.2-1b:q4_0,qwen3-30b-a3b:q4_0,deepseek-v2-lite:q4_0,qwen2.5-1.5b:q8_0 --rounds 1 > $R/vs.txt 2>&1
echo "vs done at $(( $(date +%s) - T0 )) s" >> $R/times.txt; pack
for o in '{}' '{"moeDecode":{"foldShared":false}}' '{"moeDecode":{"gateUpLanes":16}}'; do
  [ $(( 590 - ($(date +%s) - T0) )) -gt 45 ] || break
  echo "== $o" >> $R/anatomy.txt
  timeout 45 node dist/bench/decodeAnatomy.js --reps 5 --shape deepseek-v2-lite --dtype q4_0 --contexts 128 --overrides "$o" 2>&1 | grep -v -E 'XDG|^Warning' | cut -c1-170 | head -12 >> $R/anatomy.txt
  echo "anatomy $o at $(( $(date +%s) - T0 )) s" >> $R/times.txt; pack
done
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw --format=csv > $R/gpu-after.txt 2>&1
pack; cat $R/times.txt; grep -E "round|wrote" $R/vs.txt | head -24; cat $R/vs/vs-llamacpp.md; cat $R/anatomy.txt
