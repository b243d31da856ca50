/**
 * Subgroup matrices (cooperative matrices, tensor cores) on this adapter: what Dawn exposes with and without
 * allow_unsafe_apis (features, GPUAdapterInfo.subgroupMatrixConfigs), then, for each GEMM the device can
 * run, checked on odd shapes and timed beside the integer-dot GEMM on the prefill shapes of Qwen2.5-1.5B and
 * Llama-3.2-1B (kernelLab --gemm's), per tile:
 *  - where an i8 -> i32 config exists, the int8 GEMM (src/kernels/matmulSubgroupMatrixInt8.ts) against the
 *    CPU's int8 product (matmulInt8Ref) and against the integer-dot GEMM on the same x8, for Q4_0 / Q8_0 / Q4_K;
 *  - where an f16 -> f32 config exists (with shader-f16), the f16 GEMM (src/kernels/matmulSubgroupMatrix.ts)
 *    against a CPU reference on f16-rounded inputs, every weight dtype.
 *
 *   node dist/bench/subgroupMatrixLab.js [--ts 512,4096] [--tiles sg2x2m2x2p8] [--int8-tiles sg2x2m2x2k2p4,sg2x2m4x2k2p4] [--out file.json]
 */
import { writeFileSync } from 'node:fs';
import { create } from 'webgpu';
import type { GpuContext } from '../src/gpu/context.js';
import type { KernelOverrides, SubgroupMatrixInt8Tile, SubgroupMatrixTile } from '../src/gpu/kernelOverrides.js';
import type { DType } from '../src/gpu/tensor.js';
import { matmul } from '../src/kernels/matmul.js';
import { GEMM_MATRIX_TILE, gemmMatrixTileName } from '../src/kernels/matmulSubgroupMatrix.js';
import { GEMM_MATRIX_INT8_TILE, gemmMatrixInt8TileName, parseGemmMatrixInt8Tile } from '../src/kernels/matmulSubgroupMatrixInt8.js';
import { matmulAbsScale } from '../src/kernels/ref/matmul.js';
import { matmulInt8Ref } from '../src/kernels/ref/matmulInt8.js';
import { createNodeGpu } from '../src/node/gpu.js';
import { dequantize, f16ToF32, f32ToF16, quantize } from '../src/weights/quant/index.js';
import { GEMM_SHAPES } from './kernelLabGemm.js';
import { randomBlocks } from './labRandom.js';
import { timeB2b } from './labTiming.js';

const UNSAFE = 'enable-dawn-features=allow_unsafe_apis';
const DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization,lazy_clear_resource_on_first_use', UNSAFE];

/** Odd shapes for the correctness check: T, N not multiples of the tile, every dtype weights.wgsl reads. */
const CHECKS: { dtype: DType; T: number; N: number; K: number; bias: boolean }[] = [
  { dtype: 'q8_0', T: 37, N: 77, K: 96, bias: true },
  { dtype: 'q4_0', T: 100, N: 200, K: 256, bias: false },
  { dtype: 'q4_k', T: 16, N: 50, K: 512, bias: true },
  { dtype: 'q6_k', T: 65, N: 129, K: 256, bias: false },
  { dtype: 'f16', T: 70, N: 33, K: 64, bias: true },
  { dtype: 'f32', T: 129, N: 130, K: 320, bias: false },
  { dtype: 'bf16', T: 17, N: 64, K: 32, bias: false },
];

/** Odd shapes for the int8 GEMM: T, N not multiples of the tile, K steps ending in a partial one, every int8 dtype. */
const INT8_CHECKS: { dtype: DType; T: number; N: number; K: number; bias: boolean }[] = [
  { dtype: 'q8_0', T: 37, N: 77, K: 96, bias: true },
  { dtype: 'q4_0', T: 100, N: 200, K: 256, bias: false },
  { dtype: 'q4_k', T: 16, N: 50, K: 512, bias: true },
  { dtype: 'q4_0', T: 17, N: 33, K: 1568, bias: true },
  { dtype: 'q8_0', T: 129, N: 130, K: 320, bias: false },
  { dtype: 'q4_k', T: 70, N: 129, K: 768, bias: false },
];

function parseTile(s: string): SubgroupMatrixTile {
  const m = /^sg(\d+)x(\d+)m(\d+)x(\d+)p(\d+)$/.exec(s);
  if (!m) throw new Error(`--tiles: ${s} is not sgYxXmIxJpP`);
  return { SGY: +m[1]!, SGX: +m[2]!, TMS: +m[3]!, TNS: +m[4]!, pad: +m[5]! };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

async function probe(flags: string[]) {
  const adapter = await create(flags).requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { flags, adapter: null };
  const info = adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: readonly Record<string, unknown>[] };
  return {
    flags,
    description: info.description,
    architecture: info.architecture,
    subgroupMinSize: info.subgroupMinSize,
    subgroupMaxSize: info.subgroupMaxSize,
    features: [...adapter.features].sort(),
    subgroupMatrixConfigs: (info.subgroupMatrixConfigs ?? []).map((c) => ({
      componentType: c.componentType,
      resultComponentType: c.resultComponentType,
      M: c.M,
      N: c.N,
      K: c.K,
    })),
  };
}

const roundHalf = (v: number) => f16ToF32(f32ToF16(v));

/** Weights of `dtype` for a check: random blocks for the GGUF formats, encoded random floats for the rest. */
function weightsOf(dtype: DType, N: number, K: number, seed: number): Uint8Array {
  if (dtype === 'f32' || dtype === 'f16' || dtype === 'bf16') {
    const v = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 0.731 + seed) * 0.05);
    return dtype === 'f32' ? new Uint8Array(v.buffer) : quantize(v, dtype);
  }
  return randomBlocks(dtype, N * K, seed);
}

/** Largest |GPU - CPU| over the rows' |terms| sum, the CPU on f16-rounded x and weights (what the kernel multiplies). */
function checkError(x: Float32Array, wq: Uint8Array, dtype: DType, T: number, N: number, K: number, bias: Float32Array | undefined, got: Float32Array): number {
  const w = dequantize(wq, dtype, N * K).map(roundHalf);
  const xh = x.map(roundHalf);
  let worst = 0;
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      let a = 0;
      for (let k = 0; k < K; k++) {
        const v = xh[t * K + k]! * w[n * K + k]!;
        s += v;
        a += Math.abs(v);
      }
      const want = s + (bias?.[n] ?? 0);
      worst = Math.max(worst, Math.abs(got[t * N + n]! - want) / (a + Math.abs(bias?.[n] ?? 0) + 1e-6));
    }
  }
  return worst;
}

async function correctness(ctx: GpuContext, tiles: SubgroupMatrixTile[]) {
  const rows = [];
  for (const tile of tiles) {
    for (const c of CHECKS) {
      ctx.kernelOverrides = { gemmMatrix: { use: true, tile } };
      const x = Float32Array.from({ length: c.T * c.K }, (_, i) => Math.cos(i * 0.113) * 2);
      const wq = weightsOf(c.dtype, c.N, c.K, c.N + c.K);
      const bias = c.bias ? Float32Array.from({ length: c.N }, (_, i) => i * 0.01 - 0.3) : undefined;
      const xt = ctx.upload(x, [c.T, c.K], 'f32');
      const wt = ctx.upload(wq, [c.N, c.K], c.dtype);
      const bt = bias && ctx.upload(bias, [c.N], 'f32');
      const yt = ctx.createTensor([c.T, c.N], 'f32');
      matmul(ctx, xt, wt, yt, bt);
      const err = checkError(x, wq, c.dtype, c.T, c.N, c.K, bias, await ctx.readF32(yt));
      const ok = err < 2e-3;
      rows.push({ tile: gemmMatrixTileName(tile), ...c, relErr: err, ok });
      console.log(
        `check ${gemmMatrixTileName(tile)} ${c.dtype} T=${c.T} N=${c.N} K=${c.K}${c.bias ? ' +bias' : ''}: error ${err.toExponential(2)} of the |terms| ${ok ? 'ok' : 'WRONG'}`,
      );
      for (const t of [xt, wt, yt, ...(bt ? [bt] : [])]) ctx.destroyBuffer(t.buffer);
    }
  }
  ctx.kernelOverrides = undefined;
  return rows;
}

/**
 * The int8 GEMM per tile on INT8_CHECKS: the largest |GPU - CPU int8 product| over Σ|x||w| (the CPU's x8 may
 * round a value the other way: about 1e-4 at most), and over the integer-dot GEMM's output on the same GPU
 * (the same arithmetic in another order: about 1e-7).
 */
async function correctnessInt8(ctx: GpuContext, tiles: SubgroupMatrixInt8Tile[]) {
  const rows = [];
  for (const c of INT8_CHECKS) {
    const x = Float32Array.from({ length: c.T * c.K }, (_, i) => Math.cos(i * 0.113) * 2);
    const wq = randomBlocks(c.dtype, c.N * c.K, c.N + c.K);
    const bias = c.bias ? Float32Array.from({ length: c.N }, (_, i) => i * 0.01 - 0.3) : undefined;
    const xt = ctx.upload(x, [c.T, c.K], 'f32');
    const wt = ctx.upload(wq, [c.N, c.K], c.dtype);
    const bt = bias && ctx.upload(bias, [c.N], 'f32');
    const yt = ctx.createTensor([c.T, c.N], 'f32');
    const w = dequantize(wq, c.dtype, c.N * c.K);
    const scale = matmulAbsScale(x, w, c.T, c.N, c.K);
    const ref = matmulInt8Ref(x, w, c.T, c.N, c.K, bias);
    ctx.kernelOverrides = { gemm: { use: true }, gemmMatrixInt8: { use: false } };
    matmul(ctx, xt, wt, yt, bt);
    const dot4 = await ctx.readF32(yt);
    for (const tile of tiles) {
      ctx.kernelOverrides = { gemm: { use: true }, gemmMatrixInt8: { use: true, tile } };
      matmul(ctx, xt, wt, yt, bt);
      const got = await ctx.readF32(yt);
      let vsCpu = 0;
      let vsDot4 = 0;
      for (let i = 0; i < got.length; i++) {
        const a = scale[i]! + Math.abs(bias?.[i % c.N] ?? 0) + 1e-6;
        vsCpu = Math.max(vsCpu, Math.abs(got[i]! - ref[i]!) / a);
        vsDot4 = Math.max(vsDot4, Math.abs(got[i]! - dot4[i]!) / a);
      }
      const ok = vsCpu < 1e-3 && vsDot4 < 1e-5;
      rows.push({ tile: gemmMatrixInt8TileName(tile), ...c, vsCpu, vsDot4, ok });
      console.log(
        `check int8 ${gemmMatrixInt8TileName(tile)} ${c.dtype} T=${c.T} N=${c.N} K=${c.K}${c.bias ? ' +bias' : ''}: error ${vsCpu.toExponential(2)} against the CPU, ${vsDot4.toExponential(2)} against the integer-dot GEMM ${ok ? 'ok' : 'WRONG'}`,
      );
    }
    for (const t of [xt, wt, yt, ...(bt ? [bt] : [])]) ctx.destroyBuffer(t.buffer);
  }
  ctx.kernelOverrides = undefined;
  return rows;
}

async function timing(ctx: GpuContext, variants: { name: string; overrides: KernelOverrides }[], Ts: number[]) {
  const rows = [];
  console.log('dtype     T       N      K variant              us   TFLOP/s  shape');
  for (const dtype of ['q4_0', 'q8_0'] as DType[]) {
    for (const s of GEMM_SHAPES) {
      const w = ctx.upload(randomBlocks(dtype, s.N * s.K, s.N + s.K), [s.N, s.K], dtype);
      for (const T of Ts) {
        const x = ctx.upload(
          Float32Array.from({ length: T * s.K }, (_, i) => Math.sin(i * 0.37) + 0.1),
          [T, s.K],
          'f32',
        );
        const y = ctx.createTensor([T, s.N], 'f32');
        for (const v of variants) {
          ctx.kernelOverrides = v.overrides;
          const sec = await timeB2b(ctx, () => matmul(ctx, x, w, y), 10);
          const tflops = (2 * T * s.N * s.K) / sec / 1e12;
          rows.push({ dtype, T, N: s.N, K: s.K, model: s.model, shape: s.name, variant: v.name, us: sec * 1e6, tflops });
          console.log(
            `${dtype.padEnd(5)} ${String(T).padStart(5)} ${String(s.N).padStart(7)} ${String(s.K).padStart(6)} ${v.name.padEnd(16)} ${(sec * 1e6).toFixed(1).padStart(9)} ${tflops.toFixed(2).padStart(9)}  ${s.model} ${s.name}`,
          );
        }
        ctx.destroyBuffer(x.buffer);
        ctx.destroyBuffer(y.buffer);
      }
      ctx.destroyBuffer(w.buffer);
    }
  }
  ctx.kernelOverrides = undefined;
  return rows;
}

async function fail(result: Record<string, unknown>, what: string, e: unknown): Promise<never> {
  console.log(`the ${what} failed: ${(e as Error).stack}`);
  result.error = `${what}: ${(e as Error).message}`;
  const out = arg('--out');
  if (out) writeFileSync(out, JSON.stringify(result, null, 1));
  process.exit(1);
}

async function main() {
  const ctx = await createNodeGpu({ dawnFlags: DAWN_FLAGS }); // first: it points Vulkan at SwiftShader where there is no GPU
  const probes = [await probe([]), await probe([UNSAFE])];
  for (const p of probes) console.log(JSON.stringify(p));
  const f16 = ctx.features.subgroupMatrix;
  const i8 = ctx.features.subgroupMatrixInt8;
  console.log(`device: ${ctx.adapterInfo.description}; f16 subgroup matrix: ${f16 ? JSON.stringify(f16) : 'none'}; i8: ${i8 ? JSON.stringify(i8) : 'none'}`);
  const result: Record<string, unknown> = { date: new Date().toISOString(), probes, shape: f16 ?? null, shapeInt8: i8 ?? null };
  const Ts = arg('--ts')?.split(',').map(Number) ?? [512, 4096];
  const variants: { name: string; overrides: KernelOverrides }[] = [];
  if (i8) {
    const tiles = (arg('--int8-tiles')?.split(',') ?? []).map((t) => {
      const tile = parseGemmMatrixInt8Tile(t);
      if (!tile) throw new Error(`--int8-tiles: ${t} is not sgYxXmIxJkKpP`);
      return tile;
    });
    if (tiles.length === 0) tiles.push(GEMM_MATRIX_INT8_TILE);
    try {
      result.checksInt8 = await correctnessInt8(ctx, tiles);
    } catch (e) {
      await fail(result, 'int8 subgroup-matrix GEMM', e);
    }
    variants.push({ name: 'dot4', overrides: { gemmMatrixInt8: { use: false } } });
    for (const tile of tiles) variants.push({ name: `i8 ${gemmMatrixInt8TileName(tile)}`, overrides: { gemmMatrixInt8: { use: true, tile } } });
  }
  if (f16) {
    const tiles = (arg('--tiles')?.split(',') ?? []).map(parseTile);
    if (tiles.length === 0) tiles.push(GEMM_MATRIX_TILE);
    try {
      result.checks = await correctness(ctx, tiles);
    } catch (e) {
      await fail(result, 'f16 subgroup-matrix GEMM', e);
    }
    if (!i8) variants.push({ name: 'dot4', overrides: { gemmMatrix: { use: false } } });
    for (const tile of tiles) variants.push({ name: `f16 ${gemmMatrixTileName(tile)}`, overrides: { gemmMatrix: { use: true, tile } } });
  }
  if (variants.length > 0) result.timing = await timing(ctx, variants, Ts);
  const out = arg('--out');
  if (out) writeFileSync(out, JSON.stringify(result, null, 1));
  ctx.destroy();
}

await main();
