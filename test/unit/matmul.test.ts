import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import type { DType } from '../../src/gpu/tensor.js';
import { matmul, matmulSiluGlu } from '../../src/kernels/matmul.js';
import { matmulAbsScale, matmulRef } from '../../src/kernels/ref/matmul.js';
import { dequantize, quantize, type EncodeDType } from '../../src/weights/quant/index.js';
import { gpu } from '../helpers/gpu.js';
import { overrideKernels } from '../helpers/overrides.js';
import { randomF32 } from '../helpers/random.js';

// Tolerance: |gpu - ref| <= 1e-4 * Σ_k |x_tk| |w_nk| per output, where ref multiplies the dequantized
// weights in f64 (f32 accumulation in a different order on the GPU).
const REL = 1e-4;

function stored(w: Float32Array, dtype: DType): Uint8Array {
  if (dtype === 'f32') return new Uint8Array(w.buffer.slice(0));
  return quantize(w, dtype as EncodeDType);
}

async function check(dtype: DType, T: number, N: number, K: number, withBias: boolean, seed = 1): Promise<void> {
  const ctx = await gpu();
  const x = randomF32(T * K, seed);
  const bytes = stored(randomF32(N * K, seed + 1), dtype);
  const wq = dequantize(bytes, dtype, N * K);
  const b = withBias ? randomF32(N, seed + 2) : undefined;
  const y = ctx.createTensor([T, N], 'f32');
  matmul(ctx, ctx.upload(x, [T, K], 'f32'), ctx.upload(bytes, [N, K], dtype), y, b && ctx.upload(b, [N], 'f32'));
  const got = await ctx.readF32(y);
  const ref = matmulRef(x, wq, T, N, K, b);
  const scale = matmulAbsScale(x, wq, T, N, K);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i]! - ref[i]!) / (scale[i]! + 1e-30));
  expect(worst, `${dtype} T=${T} N=${N} K=${K}`).toBeLessThan(REL);
}

// K per dtype: odd for float dtypes, 32 * odd or 256 * odd for block formats.
const kOf: Record<string, [number, number]> = {
  f32: [53, 37],
  f16: [53, 38],
  bf16: [51, 36],
  q8_0: [96, 160],
  q4_0: [96, 160],
  q4_k: [256, 256],
  q6_k: [256, 256],
};
const dtypes = Object.keys(kOf) as DType[];

describe('matmul with a weight larger than one binding (row ranges of one buffer)', () => {
  // A 2 KiB binding limit stands in for the device's maxStorageBufferBindingSize.
  it.each([
    ['f32', 1, 37, 64],
    ['f32', 5, 37, 64],
    ['q4_0', 1, 301, 128],
    ['q8_0', 3, 121, 64],
  ] as [DType, number, number, number][])('%s T=%i N=%i K=%i, bias', async (dtype, T, N, K) => {
    await overrideKernels({ maxBinding: 2048 });
    await check(dtype, T, N, K, true, 31);
  });
});

describe('matmul decode GEMV for Q4_0 / Q8_0 (f32 pairs of blocks, T = 1)', () => {
  it.each([
    ['q4_0', 1, 32],
    ['q4_0', 2, 32],
    ['q4_0', 4, 32],
    ['q8_0', 1, 32],
    ['q8_0', 4, 32],
    ['q4_0', 8, 16],
    ['q8_0', 16, 16],
  ] as [DType, number, number][])('%s with %i rows per lane group (lanes %s): odd N, one and several pairs per lane, bias', async (dtype, rows, lanes) => {
    for (const xShared of [false, true]) {
      await overrideKernels({ gemv: { int8: false, rows, quantLanes: lanes, xShared } });
      await check(dtype, 1, 45, 64 * 7, true, 21);
      await check(dtype, 1, 37, 64 * 33, false, 22); // 33 pairs: lane 0 takes two
    }
  });
  it('folds its workgroups onto a 2-D grid', async () => {
    await overrideKernels({ maxGridX: 3, gemv: { int8: false, rows: 1 } });
    await check('q4_0', 1, 301, 128, true, 23); // 38 workgroups -> 3 x 13
  });
});

describe('matmul decode GEMV on integer dot products (x as two int8 planes, T = 1)', () => {
  it('is available here (Dawn has the packed_4x8_integer_dot_product language feature)', async () => {
    expect((await gpu()).features.packedDot).toBe(true);
  });
  it.each([
    ['q4_0', 1, 32],
    ['q4_0', 4, 32],
    ['q8_0', 2, 32],
    ['q8_0', 8, 16],
    ['q4_k', 1, 32],
    ['q4_k', 4, 16],
    ['q4_k', 2, 8],
  ] as [DType, number, number][])('%s with %i rows per lane group (lanes %s): odd N, several units per lane, bias', async (dtype, rows, lanes) => {
    // [vec4 Q4_K loads, most workgroups launched (2: each takes several blocks of rows)]
    const modes: [boolean, number][] = [
      [true, 0],
      [true, 2],
    ];
    if (dtype === 'q4_k') modes.push([false, 2]);
    for (const [vec4Weights, maxGroups] of modes) {
      await overrideKernels({ gemv: { int8: true, rows, quantLanes: lanes, vec4Weights, maxGroups } });
      await check(dtype, 1, 45, dtype === 'q4_k' ? 256 * 3 : 64 * 7, true, 41);
      await check(dtype, 1, 37, dtype === 'q4_k' ? 256 * 9 : 64 * 33, false, 42); // more units than lanes
    }
  });
  it.each(['q4_0', 'q8_0', 'q4_k'] as DType[])('%s: x in several chunks of workgroup memory, the last one partial', async (dtype) => {
    // 16 units per chunk (K = 2816 is 2.75 chunks); maxGroups 1: one workgroup re-encodes every chunk for each block of rows
    for (const maxGroups of [0, 1]) {
      await overrideKernels({ gemv: { int8: true, quantLanes: 16, int8Chunk: 1024, maxGroups } });
      await check(dtype, 1, 29, 2816, true, 43);
    }
  });
  it.each(['q4_0', 'q8_0', 'q4_k'] as DType[])(
    '%s: 4 lanes over 13 units a row, several blocks of rows a workgroup, x in one chunk or several',
    async (dtype) => {
      // K = 13 (Q4_K: 4 x 13) units over 4 lanes; maxGroups 2: a workgroup takes several blocks of rows.
      const K = dtype === 'q4_k' ? 256 * 13 : 64 * 13;
      for (const maxGroups of [0, 2]) {
        await overrideKernels({ gemv: { int8: true, quantLanes: 4, rows: 2, maxGroups } });
        await check(dtype, 1, 43, K, true, 50 + maxGroups);
      }
      await overrideKernels({ gemv: { int8: true, quantLanes: 4, rows: 2, int8Chunk: 1024 } });
      await check(dtype, 1, 29, dtype === 'q4_k' ? 2816 - 256 : 2816, false, 60);
    },
  );
  it('folds its workgroups onto a 2-D grid', async () => {
    await overrideKernels({ maxGridX: 3, gemv: { int8: true, rows: 1 } });
    await check('q4_k', 1, 301, 256, true, 44); // 19 workgroups -> 3 x 7
    await overrideKernels({ maxGridX: 3, gemv: { int8: true, rows: 1, maxGroups: 5 } }); // 5 workgroups (2 x 3, one idle) take the 19 blocks of rows
    await check('q4_0', 1, 301, 256, true, 45);
  });
  it('keeps 16-bit precision per block of 32 with an outlier 1000x the rest of its block', async () => {
    const ctx = await gpu();
    await overrideKernels({ gemv: { int8: true } });
    const [N, K] = [33, 512];
    const x = randomF32(K, 45);
    x[70] = 1000;
    for (const dtype of ['q4_0', 'q8_0', 'q4_k'] as DType[]) {
      const bytes = stored(randomF32(N * K, 46), dtype);
      const wq = dequantize(bytes, dtype, N * K);
      const y = ctx.createTensor([1, N], 'f32');
      matmul(ctx, ctx.upload(x, [1, K], 'f32'), ctx.upload(bytes, [N, K], dtype), y);
      const got = await ctx.readF32(y);
      const ref = matmulRef(x, wq, 1, N, K);
      const scale = matmulAbsScale(x, wq, 1, N, K);
      for (let n = 0; n < N; n++) {
        // The documented bound: each x within max|x of its block| / 64516, plus f32 rounding.
        let bound = 0;
        for (let k = 0; k < K; k++) {
          let m = 0;
          for (let i = k & ~31; i < (k & ~31) + 32; i++) m = Math.max(m, Math.abs(x[i]!));
          bound += (Math.abs(wq[n * K + k]!) * m) / 64516;
        }
        expect(Math.abs(got[n]! - ref[n]!), `${dtype} row ${n}`).toBeLessThanOrEqual(bound + 1e-5 * scale[n]!);
      }
    }
  });
});

describe('matmul GEMV path (T <= 4)', () => {
  it.each(dtypes)('%s: T=1 and T=3, odd N, bias', async (dtype) => {
    await check(dtype, 1, 37, kOf[dtype]![0], false, 3);
    await check(dtype, 3, 21, kOf[dtype]![0], true, 5);
  });

  it.each(['q8_0', 'q4_0', 'q4_k', 'q6_k'] as DType[])('%s: several units per thread (8 lanes, odd block count)', async (dtype) => {
    await overrideKernels({ gemv: { lanes: 8 } });
    await check(dtype, 2, 19, dtype.endsWith('_k') ? 256 * 5 : 32 * 21, true, 13);
  });

  // Past 65535 workgroups per dimension the grid folds onto y; a lower cap exercises the same code.
  it('folds its workgroups onto a 2-D grid', async () => {
    await overrideKernels({ maxGridX: 5 });
    await check('q8_0', 1, 301, 64, true, 9); // 38 groups -> 5 x 8
    await overrideKernels({ maxGridX: 5, gemv: { lanes: 256 } }); // one row per workgroup
    await check('q4_k', 2, 23, 256, false, 10);
  });
});

// The f32 tiled GEMM; Q4_0 / Q8_0 / Q4_K take the integer-dot GEMM from 16 tokens (matmulInt8.test.ts) unless told not to.
describe('matmul tiled path (T > 4)', () => {
  it.each(dtypes)('%s: T=67, N=69 (crosses the 64 tiles), bias', async (dtype) => {
    await overrideKernels({ gemm: { use: false } });
    await check(dtype, 67, 69, kOf[dtype]![1], true, 7);
  });
  it('folds its n tiles onto a 2-D grid', async () => {
    await overrideKernels({ maxGridX: 3 });
    await check('q6_k', 9, 257, 256, true, 12); // 5 tiles -> 3 x 2
  });
  it('f32 with K = 5, T = 5', async () => {
    await check('f32', 5, 3, 5, false, 11);
  });
});

describe('matmul on views at unaligned offsets', () => {
  it.each([1, 9])('rows of a fused q4_0 weight, a bias slice and an x slice, T=%i', async (T) => {
    const ctx = await gpu();
    const K = 96;
    const N = 13;
    const from = 7; // 7 rows of 54 bytes: not a multiple of 256
    const all = randomF32((from + N + 3) * K, 21);
    const bytes = quantize(all, 'q4_0');
    const w = ctx.upload(bytes, [from + N + 3, K], 'q4_0');
    const wView = ctx.view(w, [N, K], from * (K / 32) * 18);
    const bAll = randomF32(40, 22);
    const bView = ctx.view(ctx.upload(bAll, [40], 'f32'), [N], 4 * 5);
    const xAll = randomF32((T + 1) * K + 3, 23);
    const xView = ctx.view(ctx.upload(xAll, [xAll.length], 'f32'), [T, K], 4 * 3);
    const y = ctx.createTensor([T + 2, N], 'f32');
    const yView = ctx.view(y, [T, N], 4 * N);
    matmul(ctx, xView, wView, yView, bView);
    const got = (await ctx.readF32(y)).subarray(N, N + T * N);
    const wq = dequantize(bytes, 'q4_0', all.length).subarray(from * K, (from + N) * K);
    const x = xAll.subarray(3, 3 + T * K);
    const ref = matmulRef(x, wq, T, N, K, bAll.subarray(5, 5 + N));
    const scale = matmulAbsScale(x, wq, T, N, K);
    for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThan(REL * scale[i]!);
  });
});

describe('matmul argument checks', () => {
  it('rejects K that is not whole blocks, and mismatched shapes', async () => {
    const ctx = await gpu();
    const w = ctx.createTensor([4, 256], 'q4_k');
    const x = ctx.createTensor([2, 256], 'f32');
    const y = ctx.createTensor([2, 4], 'f32');
    expect(() => matmul(ctx, ctx.createTensor([2, 48], 'f32'), { ...w, shape: [4, 48] } as never, y)).toThrow(InvalidArgumentError);
    expect(() => matmul(ctx, x, w, ctx.createTensor([2, 5], 'f32'))).toThrow(InvalidArgumentError);
    expect(() => matmul(ctx, ctx.createTensor([2, 255], 'f32'), w, y)).toThrow(InvalidArgumentError);
  });
});

describe('matmulSiluGlu: the GLU fused into the decode GEMV', () => {
  it.each([
    ['q4_0', true, 448],
    ['q8_0', true, 448],
    ['q4_k', true, 768],
    ['q4_0', false, 448],
    ['q8_0', false, 448],
  ] as [DType, boolean, number][])('%s (integer dot %s, K = %i): y = (silu(gate) * up) · Wᵀ + bias within 1e-4 relative', async (dtype, int8, K) => {
    const ctx = await gpu();
    await overrideKernels({ gemv: { int8 } });
    const N = 45;
    const gu = randomF32(2 * K, 51, 2);
    const bytes = stored(randomF32(N * K, 52), dtype);
    const wq = dequantize(bytes, dtype, N * K);
    const b = randomF32(N, 53);
    const y = ctx.createTensor([1, N], 'f32');
    const fused = matmulSiluGlu(ctx, ctx.upload(gu, [1, 2 * K], 'f32'), ctx.upload(bytes, [N, K], dtype), y, ctx.upload(b, [N], 'f32'));
    expect(fused).toBe(true);
    const a = new Float32Array(K);
    for (let k = 0; k < K; k++) a[k] = (gu[k]! / (1 + Math.exp(-gu[k]!))) * gu[K + k]!;
    const ref = matmulRef(a, wq, 1, N, K, b);
    const scale = matmulAbsScale(a, wq, 1, N, K);
    const got = await ctx.readF32(y);
    for (let n = 0; n < N; n++) expect(Math.abs(got[n]! - ref[n]!) / scale[n]!).toBeLessThan(REL);
  });
  it('declines where the fused path does not apply (f32 weights): the caller runs glu and matmul', async () => {
    const ctx = await gpu();
    const w = ctx.createTensor([3, 64], 'f32');
    expect(matmulSiluGlu(ctx, ctx.createTensor([1, 128], 'f32'), w, ctx.createTensor([1, 3], 'f32'))).toBe(false);
  });
});
