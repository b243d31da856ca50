set -u
. bench/gpu/enter.sh || exit 1
R=$OUT; T0=$(date +%s)
node dist/bench/makeRandomGguf.js --shape qwen2.5-1.5b --type q4_0 --out /tmp/q.gguf 2>&1 | grep -v -E 'XDG|^Warning'
timeout 60 node dist/bench/decodeTrace.js --model /tmp/q.gguf --contexts 128,4096,128,4096,4096 2>&1 | grep -v -E 'XDG|^Warning' | tee $R/trace-q.txt
node dist/bench/makeRandomGguf.js --shape qwen3-30b-a3b --type q4_0 --out /tmp/m.gguf 2>&1 | grep -v -E 'XDG|^Warning'
echo "written at $(( $(date +%s) - T0 )) s"
mkdir -p /tmp/prof
timeout 120 node --cpu-prof --cpu-prof-dir=/tmp/prof --cpu-prof-interval 250 dist/bench/decodeTrace.js --model /tmp/m.gguf --contexts 128,4096,4096,4096 2>&1 | grep -v -E 'XDG|^Warning' | tee $R/trace-m.txt
ls -la /tmp/prof; cd /tmp/prof && tar czf $R/prof.tgz *.cpuprofile; ls -la $R
echo "done at $(( $(date +%s) - T0 )) s"
