#!/usr/bin/env bash
# weblm beside llama.cpp on the same random-weight GGUF files, in one run: the command the speed figures in
# README.md and bench/README.md come from. On the NVIDIA machine of the `device` tool:
#   here:   npm run build && bash bench/gpu/make-kit.sh && bash bench/gpu/make-anchor-kit.sh
#   there:  bash bench/vs-llamacpp.sh [--models qwen2.5-1.5b:q4_0,...] [--rounds 2]     (carry .gpu-kit, .gpu-anchor, dist)
# Results under $OUT (default ./bench-out): vs-llamacpp.jsonl (every run), vs-llamacpp.md (table), vs-llamacpp.svg.
set -uo pipefail
. bench/gpu/enter.sh || exit 1
. .gpu-anchor/unpack.sh
out=${OUT:-bench-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1
node dist/bench/vsLlamacpp.js --out "$out" --llama-module "$PWD/.gpu-anchor/node_modules/node-llama-cpp/dist/index.js" "$@" 2>&1 | grep -v -E 'XDG|^Warning'
