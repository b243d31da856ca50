#!/usr/bin/env bash
# Every GPU benchmark in one command, for the NVIDIA machine of the `device` tool (bench/gpu: make-kit.sh, enter.sh).
# Here: npm run build && bash bench/gpu/make-kit.sh
# There (carry .gpu-kit and dist):  bash bench/run-on-gpu.sh   (results under $OUT, default ./bench-out)
set -uo pipefail
. bench/gpu/enter.sh || exit 1
out=${OUT:-bench-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1
node dist/bench/kernelLab.js --dtypes q4_0,q8_0,q4_k --variants auto,auto+xp,generic,x32r8 --chain --out "$out/kernelLab.json" 2>&1 | grep -v -E 'XDG|^Warning' | tee "$out/kernelLab.txt"
: > "$out/decode.jsonl"
run() { node dist/bench/decodeBench.js "$@" 2>"$out/err.txt" | tail -1 | tee -a "$out/decode.jsonl"; grep -v -E 'XDG|^Warning' "$out/err.txt" | tail -4; }
run --shape qwen2.5-1.5b --dtype q4_0 --contexts 128,4096
run --shape qwen2.5-1.5b --dtype q8_0 --contexts 128,4096
run --shape llama-3.2-1b --dtype q4_0 --contexts 128,4096
run --shape llama-3.1-8b --dtype q4_k --contexts 128,4096
# x in planes from the norms (the default) against each GEMV encoding x itself, and unpipelined decode
run --shape qwen2.5-1.5b --dtype q4_0 --contexts 128 --planes off
run --shape llama-3.1-8b --dtype q4_k --contexts 128 --planes off
run --shape llama-3.1-8b --dtype q4_k --contexts 128 --pipeline off
run --shape llama-3.1-8b --dtype q4_k --contexts 128 --pipeline off --planes off
# MoE: decode reads only the selected experts (issue 5)
run --shape moe-olmoe-shape --dtype q4_0 --contexts 128
run --shape moe-olmoe-shape --dtype q8_0 --contexts 128
run --shape moe-olmoe-shape-all-experts --dtype q4_0 --contexts 128
run --shape dense-olmoe-active --dtype q4_0 --contexts 128
# Where a decode token's CPU time goes: a V8 profile of the 1.5B decode.
node --cpu-prof --cpu-prof-dir="$out" --cpu-prof-name=decode.cpuprofile dist/bench/decodeBench.js --shape qwen2.5-1.5b --dtype q4_0 --contexts 128 --decode 128 2>/dev/null | tail -1
