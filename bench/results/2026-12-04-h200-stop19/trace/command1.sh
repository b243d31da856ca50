set -u
. bench/gpu/enter.sh || exit 1
R=$OUT; T0=$(date +%s)
for s in qwen3-30b-a3b deepseek-v2-lite qwen2.5-1.5b; do
  node dist/bench/makeRandomGguf.js --shape $s --type q4_0 --out /tmp/$s.gguf 2>&1 | grep -v -E 'XDG|^Warning'
  timeout 150 node dist/bench/decodeTrace.js --model /tmp/$s.gguf --contexts 128,4096,128,4096,4096 --out $R/trace-$s.json 2>&1 | grep -v -E 'XDG|^Warning' | tee $R/trace-$s.txt
  rm -f /tmp/$s.gguf
  echo "$s done at $(( $(date +%s) - T0 )) s"
done
