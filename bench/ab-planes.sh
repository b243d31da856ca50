#!/usr/bin/env bash
# A/B of x in planes (the norms write them, the Q4_0/Q4_K decode GEMVs read them) against each GEMV encoding
# x itself: kernelLab on the GEMV shapes that follow a norm in the 1.5B and 8B models (each GEMV alone, and
# the chain norm -> GEMV), and the 1.5B decode alternated on/off twice, pipelined and not.
# Device tool: carry .gpu-kit and dist, command: bash bench/ab-planes.sh   (results under $OUT)
set -uo pipefail
. bench/gpu/enter.sh >/dev/null 2>&1
out=$OUT
node dist/bench/kernelLab.js --dtypes q4_0,q4_k --shapes 2048x1536,17920x1536,6144x4096,28672x4096,151936x1536 --variants auto,auto+xp --chain --out $out/kernelLab-ab.json 2>&1 | grep -v -E 'XDG|^Warning' > $out/kernelLab-ab.txt
: > $out/decode-ab.jsonl
for i in 1 2; do
  for pl in on off; do
    node dist/bench/decodeBench.js --shape qwen2.5-1.5b --dtype q4_0 --contexts 128 --planes $pl 2>/dev/null | tail -1 >> $out/decode-ab.jsonl
    node dist/bench/decodeBench.js --shape qwen2.5-1.5b --dtype q4_0 --contexts 128 --planes $pl --pipeline off 2>/dev/null | tail -1 >> $out/decode-ab.jsonl
  done
done
