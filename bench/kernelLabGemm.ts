// The prefill GEMM sweep of the kernel lab (bench/kernelLab.ts --gemm): the f32 tiled GEMM, what matmul picks
// and integer-dot tiles on one layer's matmuls of real models, against the f32 FMA and int8 dot4 peaks.
import type { GpuContext } from '../src/gpu/context.js';
import { byteSizeOf, dtypeLayout, type DType } from '../src/gpu/tensor.js';
import { matmul } from '../src/kernels/matmul.js';
import { gemmInt8Tile, gemmTileName, gemmTileProblem, parseGemmTile, quantizeX8, releaseX8 } from '../src/kernels/matmulInt8.js';
import { dequantize } from '../src/weights/quant/index.js';
import type { Args } from './kernelLabArgs.js';
import { arithmeticPeaks, type Peak } from './kernelLabRoofline.js';
import { chosen, fmt, timeBoth, warmClocks, type KernelTimer } from './kernelLabTiming.js';
import { randomBlocks } from './labRandom.js';

/** Prefill GEMM shapes (N x K of one layer's matmuls; the LM head runs on the last token only, so it is left out). */
export const GEMM_SHAPES: { model: string; name: string; N: number; K: number }[] = [
  { model: 'Qwen2.5-1.5B', name: 'q|k|v', N: 2048, K: 1536 },
  { model: 'Qwen2.5-1.5B', name: 'o', N: 1536, K: 1536 },
  { model: 'Qwen2.5-1.5B', name: 'gate|up', N: 17920, K: 1536 },
  { model: 'Qwen2.5-1.5B', name: 'down', N: 1536, K: 8960 },
  { model: 'Llama-3.2-1B', name: 'q|k|v', N: 3072, K: 2048 },
  { model: 'Llama-3.2-1B', name: 'o', N: 2048, K: 2048 },
  { model: 'Llama-3.2-1B', name: 'gate|up', N: 16384, K: 2048 },
  { model: 'Llama-3.2-1B', name: 'down', N: 2048, K: 8192 },
];
const GEMM_QUICK_SHAPES = [
  { model: 'quick', name: 'a', N: 130, K: 256 },
  { model: 'quick', name: 'b', N: 67, K: 512 },
];

/** Decoder layers of each model, to turn µs per layer into a prefill figure. */
const MODEL_LAYERS: Record<string, number> = { 'Qwen2.5-1.5B': 28, 'Llama-3.2-1B': 16, quick: 1 };

/** tiled: the f32 tiled GEMM; auto: what matmul picks; BMxBNtTMxTNkKB: that tile of the integer-dot GEMM. */
function setGemmVariant(ctx: GpuContext, v: string): void {
  ctx.kernelOverrides = v === 'auto' ? undefined : v === 'tiled' ? { gemm: { use: false } } : { gemm: { use: true, tile: parseGemmTile(v) } };
}

export interface GemmRow {
  model: string;
  shape: string;
  dtype: DType;
  T: number;
  N: number;
  K: number;
  variant: string;
  /** µs per call back to back (wall clock / calls), and median of GPU timestamps (null without them). */
  usPerCall: number;
  usKernel: number | null;
  /** 2 T N K / time (kernel time where there are timestamps). */
  tflops: number;
  ofFmaPeak: number;
  ofDot4Peak: number;
  /** Largest |gpu - ref| / Σ|x||w| over the checked outputs. */
  maxRelErr: number;
  /** Integer-dot variants: largest |gpu - ref| / (int8 bound + 1e-5 Σ|x||w|) (at most 1). */
  ofInt8Bound: number | null;
  calls: number;
}

/**
 * The reference on 4 tokens x 4 outputs: for the f32 tiled GEMM |gpu - ref| < 1e-4 Σ|x||w|; for the
 * integer-dot GEMM within its bound Σ_k |w| s / 2 (s = max|x of the block| / 127) + 1e-5 Σ|x||w|.
 */
function validateGemm(
  x: Float32Array,
  w: Uint8Array,
  dtype: DType,
  N: number,
  K: number,
  T: number,
  y: Float32Array,
  int8: boolean,
): { rel: number; ofBound: number | null } {
  const rowBytes = byteSizeOf(dtype, K);
  let rel = 0;
  let ofBound = 0;
  for (const n of new Set([0, 1, N >> 1, N - 1])) {
    const row = dequantize(w.subarray(n * rowBytes, (n + 1) * rowBytes), dtype, K);
    for (const t of new Set([0, 1, T >> 1, T - 1])) {
      let ref = 0;
      let abs = 0;
      let bound = 0;
      for (let b = 0; b < K; b += 32) {
        let m = 0;
        for (let k = b; k < b + 32; k++) m = Math.max(m, Math.abs(x[t * K + k]!));
        for (let k = b; k < b + 32; k++) {
          ref += x[t * K + k]! * row[k]!;
          abs += Math.abs(x[t * K + k]! * row[k]!);
          bound += (Math.abs(row[k]!) * m) / 127 / 2;
        }
      }
      const err = Math.abs(y[t * N + n]! - ref);
      rel = Math.max(rel, err / (abs + 1e-30));
      ofBound = Math.max(ofBound, err / (bound + 1e-5 * abs + 1e-30));
    }
  }
  return { rel, ofBound: int8 ? ofBound : null };
}

/** Times the prefill GEMMs of every dtype, shape, T and variant; prints a table and per-layer sums. */
export async function gemmLab(
  ctx: GpuContext,
  timer: KernelTimer | undefined,
  args: Args,
): Promise<{ peak: Peak; gemmRows: GemmRow[]; quantizeRows: Record<string, number>[] }> {
  console.log(
    timer
      ? 'timing: us b2b = wall clock / calls back to back in one pass; us kernel = GPU timestamps, one call per pass, median; TFLOP/s from us kernel'
      : 'timing: wall clock only (no usable timestamps); TFLOP/s from us b2b',
  );
  const peak = await arithmeticPeaks(ctx, timer, args.quick);
  console.log(
    `peaks: f32 FMA ${peak.fmaTflops.toFixed(2)} TFLOP/s, int8 dot4 ${peak.dot4Tops.toFixed(2)} TOPS (shaders/kernelLabPeak.wgsl, 8 independent chains per thread)`,
  );
  const shapes = args.shapes ? args.shapes.map(([N, K]) => ({ model: 'custom', name: `${N}x${K}`, N, K })) : args.quick ? GEMM_QUICK_SHAPES : GEMM_SHAPES;
  const Ts = args.ts ?? (args.quick ? [17, 70] : [512, 4096]);
  const variants = args.variantsGiven ? args.variants : ['tiled', 'auto'];
  const rows: GemmRow[] = [];
  const quantizeRows: Record<string, number>[] = [];
  console.log('dtype     T       N      K variant            us b2b  us kernel   TFLOP/s   %fma  %dot4  max rel err  of int8 bound  calls  shape');
  for (const dtype of args.dtypes) {
    for (const { model, name, N, K } of shapes) {
      if (K % dtypeLayout[dtype].blockElems !== 0) continue;
      const wBytes = randomBlocks(dtype, N * K, N + K);
      const w = ctx.upload(wBytes, [N, K], dtype, `gemm w ${dtype} ${N}x${K}`);
      for (const T of Ts) {
        const x = Float32Array.from({ length: T * K }, (_, i) => Math.sin(i * 0.37) + 0.1);
        const xt = ctx.upload(x, [T, K], 'f32');
        const yt = ctx.createTensor([T, N], 'f32');
        for (const variant of variants) {
          setGemmVariant(ctx, variant);
          const tile = ctx.kernelOverrides?.gemm?.tile;
          const problem = tile && gemmTileProblem(ctx, tile, dtype);
          if (problem) {
            console.log(
              `${dtype.padEnd(5)} ${String(T).padStart(5)} ${String(N).padStart(7)} ${String(K).padStart(6)} ${variant.padEnd(16)} skipped: ${problem}`,
            );
            continue;
          }
          const int8 = variant !== 'tiled' && (ctx.kernelOverrides?.gemm?.use === true || T >= 16);
          matmul(ctx, xt, w, yt);
          const check = validateGemm(x, wBytes, dtype, N, K, T, await ctx.readF32(yt), int8);
          if (int8 ? !(check.ofBound! <= 1) : !(check.rel < 1e-4)) {
            throw new Error(`${dtype} ${N}x${K} T=${T} ${variant}: GPU and CPU reference differ (relative ${check.rel}, of the int8 bound ${check.ofBound})`);
          }
          // As many calls per round as fill about 0.1 s (at least 2), from one call's wall clock.
          const t0 = performance.now();
          matmul(ctx, xt, w, yt);
          await ctx.sync();
          const one = (performance.now() - t0) / 1000;
          const calls = Math.max(2, Math.min(args.iters, Math.ceil(0.1 / one)));
          await warmClocks(ctx);
          const t = await timeBoth(ctx, timer, () => matmul(ctx, xt, w, yt), calls);
          const sec = chosen(t);
          const tflops = (2 * T * N * K) / sec / 1e12;
          const r: GemmRow = {
            model,
            shape: name,
            dtype,
            T,
            N,
            K,
            variant: variant === 'auto' ? `auto(${int8 ? gemmTileName(gemmInt8Tile(ctx)) : 'tiled'})` : variant,
            usPerCall: t.b2b * 1e6,
            usKernel: t.kernel === undefined ? null : t.kernel * 1e6,
            tflops,
            ofFmaPeak: tflops / peak.fmaTflops,
            ofDot4Peak: tflops / peak.dot4Tops,
            maxRelErr: check.rel,
            ofInt8Bound: check.ofBound,
            calls,
          };
          rows.push(r);
          console.log(
            `${dtype.padEnd(5)} ${String(T).padStart(5)} ${String(N).padStart(7)} ${String(K).padStart(6)} ${r.variant.padEnd(16)} ${fmt(r.usPerCall, 1, 9)} ${fmt(r.usKernel, 1, 10)} ${fmt(tflops, 2, 9)} ${fmt(100 * r.ofFmaPeak, 1, 6)} ${fmt(100 * r.ofDot4Peak, 1, 6)}` +
              `     ${check.rel.toExponential(2)} ${fmt(r.ofInt8Bound, 3, 14)} ${String(calls).padStart(6)}  ${model} ${name}`,
          );
        }
        // x quantized alone (part of every integer-dot call above): the first dispatch of the pair.
        if (dtype === args.dtypes[0]) {
          const q = chosen(await timeBoth(ctx, timer, () => releaseX8(ctx, quantizeX8(ctx, xt, T, K)), args.quick ? 2 : 50));
          quantizeRows.push({ T, K, us: q * 1e6 });
          console.log(`quantize x ${T} x ${K}: ${(q * 1e6).toFixed(1)} us`);
        }
        setGemmVariant(ctx, 'auto');
        ctx.destroyBuffer(xt.buffer);
        ctx.destroyBuffer(yt.buffer);
      }
      ctx.destroyBuffer(w.buffer);
    }
  }
  // Per model, T, dtype and variant: the GEMMs of one layer, and all layers' GEMMs as tokens per second.
  console.log('per layer (sum over the shapes above)   model            dtype     T variant            us/layer  TFLOP/s  GEMM-only prefill tok/s');
  const groups = new Map<string, GemmRow[]>();
  for (const r of rows) {
    const k = `${r.model}|${r.dtype}|${r.T}|${r.variant}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  for (const [k, rs] of groups) {
    const [model, dtype, T, variant] = k.split('|') as [string, string, string, string];
    const us = rs.reduce((a, r) => a + (r.usKernel ?? r.usPerCall), 0);
    const flop = rs.reduce((a, r) => a + 2 * r.T * r.N * r.K, 0);
    const tokS = Number(T) / ((us * (MODEL_LAYERS[model] ?? 1)) / 1e6);
    console.log(
      `per layer                               ${model.padEnd(16)} ${dtype.padEnd(5)} ${T.padStart(5)} ${variant.padEnd(16)} ${fmt(us, 1, 10)} ${fmt(flop / us / 1e6, 2, 8)} ${fmt(tokS, 0, 12)}`,
    );
  }
  setGemmVariant(ctx, 'auto');
  return { peak, gemmRows: rows, quantizeRows };
}
