/**
 * Kernel lab: decode GEMV (y = x · Wᵀ at T = 1) of real model shapes in q4_0, q8_0 and q4_k, on random
 * weights generated here. Each case is first checked against the CPU reference on a few rows, then timed
 * two ways: back to back (`iters` dispatches in one compute pass and one submit, wall clock / iters) and per
 * kernel (GPU timestamps around each call in a compute pass of its own, median; where the device has
 * timestamp-query). Calls rotate over copies of the weights (about 256 MiB in all; at most `iters` copies
 * and 1.2 GB) so that they read them from DRAM rather than L2. Effective bandwidth = weight bytes / time per
 * call, compared with a read-bandwidth roofline (shaders/kernelLabBandwidth.wgsl) measured the same two ways.
 *
 *   npm run build && node dist/bench/kernelLab.js [--quick] [--out result.json] [--iters 200]
 *        [--dtypes q4_0,q8_0,q4_k] [--variants auto,generic,r1,r2,r4,l16] [--shapes 4096x4096,...] [--prefill] [--no-timestamps]
 *
 * --gemm: prefill GEMMs y[T, N] = x[T, K] · Wᵀ instead (T = 512 and 4096, or --ts; the shapes of Qwen2.5-1.5B and
 * Llama-3.2-1B, or --shapes), each variant checked against the CPU reference on a few outputs, then timed
 * as above (back to back and GPU timestamps), in TFLOP/s = 2 T N K / time against an f32 FMA peak and an
 * int8 dot4 peak (shaders/kernelLabPeak.wgsl) measured in the same run. Variants (--variants): tiled (the f32
 * tiled GEMM), auto (what matmul picks), or a tile of the integer-dot GEMM, BMxBNtTMxTNkKB (64x128t8x4k2:
 * 64 tokens x 128 outputs per workgroup, 8 x 4 per thread, 2 blocks of 32 per K step).
 *   node dist/bench/kernelLab.js --gemm [--quick] [--ts 512,4096] [--variants tiled,auto,64x64t4x4k2] [--dtypes q4_0]
 *
 * --gemm --moe: MoE prefill experts instead (moeExperts, grouped path: bucket, gate|up, down, combine) on the
 * expert shapes of Qwen3-30B-A3B and DeepSeek-V2-Lite with random routing, T = 512 and 4096 (or --ts); variants
 * grouped (the f32 16 x 16 tiles of moeGateUp / moeDown `grouped`), int8 (the integer-dot grouped GEMMs,
 * src/kernels/moeGemmInt8.ts, over their work list), int8grid (over the grid of every expert's row tiles) or
 * an int8 tile BMxBNtTMxTNkKB[p][grid]; TFLOP/s = 2 T k 3 I H / time.
 *   node dist/bench/kernelLab.js --gemm --moe [--quick] [--ts 512,4096] [--variants grouped,int8,int8grid,32x64t4x4k2] [--dtypes q4_0]
 *
 * This file is the entry; the parts: kernelLabArgs.ts (the flags), kernelLabTiming.ts (GPU timestamps,
 * independent calls, the clock warm-up), kernelLabRoofline.ts (the bandwidth roofline and arithmetic peaks),
 * kernelLabGemv.ts (the decode GEMVs, --chain), kernelLabGemm.ts (--gemm), kernelLabMoe.ts (--gemm --moe).
 */
import { writeFileSync } from 'node:fs';
import { createNodeGpu } from '../src/node/gpu.js';
import { parseArgs } from './kernelLabArgs.js';
import { gemmLab } from './kernelLabGemm.js';
import { gemvLab, gemvShapes, timeChains } from './kernelLabGemv.js';
import { moeLab } from './kernelLabMoe.js';
import { bandwidthCall, kernelTimer, setWarmMs } from './kernelLabTiming.js';

/** Dawn quantizes GPU timestamps unless told not to. */
const DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization,lazy_clear_resource_on_first_use'];

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.quick) setWarmMs(0);
  const ctx = await createNodeGpu({ dawnFlags: DAWN_FLAGS, disableFeatures: args.noTimestamps ? ['timestamp-query'] : [] });
  const info = ctx.adapterInfo;
  console.log(`adapter: ${info.vendor} ${info.architecture} ${info.description}  features: ${JSON.stringify(ctx.features)}  dawn: ${DAWN_FLAGS.join(' ')}`);
  const probe = [ctx.createTensor([4], 'u32', 'probe.src'), ctx.createTensor([4], 'u32', 'probe.sink')] as const;
  const { timer, note } = await kernelTimer(ctx, bandwidthCall(ctx, probe[0], probe[1], 1, 1), args.iters);
  for (const t of probe) ctx.destroyBuffer(t.buffer);
  const method = timer ? 'kernel' : 'b2b';
  if (args.gemm) {
    const gemm = args.moe ? await moeLab(ctx, timer, args) : await gemmLab(ctx, timer, args);
    if (args.out)
      writeFileSync(
        args.out,
        JSON.stringify(
          { adapter: info, features: ctx.features, dawnFlags: DAWN_FLAGS, timing: method, timingNote: note, ...gemm, date: new Date().toISOString() },
          null,
          2,
        ),
      );
    timer?.destroy();
    ctx.destroy();
    return;
  }
  const { roofline: roof, rows } = await gemvLab(ctx, timer, note, args);
  const result = {
    adapter: info,
    features: ctx.features,
    dawnFlags: DAWN_FLAGS,
    iters: args.iters,
    timing: method,
    timingNote: note,
    roofline: roof,
    rows,
    date: new Date().toISOString(),
  };
  if (args.chain) (result as Record<string, unknown>).chain = await timeChains(ctx, args, gemvShapes(args));
  if (args.out) writeFileSync(args.out, JSON.stringify(result, null, 2));
  timer?.destroy();
  ctx.destroy();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
