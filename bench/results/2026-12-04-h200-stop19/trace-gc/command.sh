set -u
. bench/gpu/enter.sh || exit 1
R=$OUT; T0=$(date +%s)
an() { timeout 40 node dist/bench/decodeAnatomy.js --reps 10 --shape $1 --dtype q4_0 --contexts 128,4096 ${2:+--overrides "$2"} 2>&1 | grep -E "^context" | cut -c1-120 | sed "s|^|$1 ${2:-default}: |" | tee -a $R/anatomy.txt; }
for s in qwen2.5-1.5b llama-3.2-1b; do
  an $s; an $s '{"attention":{"targetWorkgroups":256}}'; an $s '{"attention":{"targetWorkgroups":512}}'
done
echo "anatomy done at $(( $(date +%s) - T0 )) s"
node dist/bench/makeRandomGguf.js --shape qwen3-30b-a3b --type q4_0 --out /tmp/m.gguf 2>&1 | grep -v -E 'XDG|^Warning'
for mode in plain gc; do
  timeout 100 node --expose-gc dist/bench/decodeTrace.js --model /tmp/m.gguf --contexts 128,4096,4096,4096,4096 $([ $mode = gc ] && echo --gc) 2>&1 | grep -v -E 'XDG|^Warning' | tee $R/trace-30b-$mode.txt
  echo "30b $mode done at $(( $(date +%s) - T0 )) s"
done
