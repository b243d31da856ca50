import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import type { DType } from '../../src/gpu/tensor.js';
import { matmul } from '../../src/kernels/matmul.js';
import { matmulAbsScale, matmulRef } from '../../src/kernels/ref/matmul.js';
import { decodeXPlanes, encodeXPlanesRef } from '../../src/kernels/ref/xPlanes.js';
import { addRmsNorm, rmsNorm } from '../../src/kernels/norm.js';
import { rmsNormRef } from '../../src/kernels/ref/norm.js';
import { createXPlanes, encodeXPlanes } from '../../src/kernels/xPlanes.js';
import { dequantize, quantize, type EncodeDType } from '../../src/weights/quant/index.js';
import { gpu } from '../helpers/gpu.js';
import { overrideKernels } from '../helpers/overrides.js';
import { randomF32 } from '../helpers/random.js';

/** Each decoded value within max|x of its block| / 508 (half a lo step) plus f32 rounding. */
function expectWithinPlaneBound(x: Float32Array, decoded: Float32Array): void {
  for (let b = 0; b < x.length / 32; b++) {
    let m = 0;
    for (let i = 0; i < 32; i++) m = Math.max(m, Math.abs(x[32 * b + i]!));
    for (let i = 0; i < 32; i++) {
      expect(Math.abs(decoded[32 * b + i]! - x[32 * b + i]!), `value ${32 * b + i}`).toBeLessThanOrEqual(m / 127 / 508 + 1e-6 * m);
    }
  }
}

describe('x planes: x as the integer-dot GEMV reads it (scale + two int8 planes per block of 32)', () => {
  it('encodes within half a lo step of each value, as the CPU reference does (K = 64 * 7, an outlier, a zero block)', async () => {
    const ctx = await gpu();
    const K = 64 * 7;
    const x = randomF32(K, 61, 3);
    x[100] = 500;
    x.fill(0, 64, 96); // block 2: all zero (scale 0)
    const planes = createXPlanes(ctx, K);
    encodeXPlanes(ctx, ctx.upload(x, [1, K], 'f32'), planes);
    const got = new Uint32Array(await ctx.read(planes, 7 * 36 * 4));
    expectWithinPlaneBound(x, decodeXPlanes(got));
    const ref = encodeXPlanesRef(x);
    let same = 0;
    for (let i = 0; i < ref.length; i++) same += got[i] === ref[i] ? 1 : 0;
    expect(same / ref.length, 'words equal to the CPU reference').toBeGreaterThan(0.98); // rounding ties of 127 / m may differ
    expectWithinPlaneBound(x, decodeXPlanes(ref));
  });

  it.each([
    ['q4_0', 2, 16],
    ['q4_0', 8, 32],
    ['q8_0', 4, 16],
    ['q4_k', 4, 16],
    ['q4_k', 2, 8],
  ] as [DType, number, number][])(
    'matmul of %s reads x from planes (rows %i, lanes %i): odd N, bias, several blocks of rows per workgroup',
    async (dtype, rows, lanes) => {
      const ctx = await gpu();
      for (const [N, K, maxGroups] of [
        [45, 768, 0],
        [37, 2304, 2],
      ] as const) {
        // planes: Q8_0 too (by default it encodes x itself)
        await overrideKernels({ gemv: { planes: true, rows, quantLanes: lanes, maxGroups } });
        const x = randomF32(K, 62);
        const bytes = quantize(randomF32(N * K, 63), dtype as EncodeDType);
        const wq = dequantize(bytes, dtype, N * K);
        const b = randomF32(N, 64);
        const planes = createXPlanes(ctx, K);
        const xt = ctx.upload(x, [1, K], 'f32');
        encodeXPlanes(ctx, xt, planes);
        const y = ctx.createTensor([1, N], 'f32');
        // x itself is poisoned: the GEMV must read the planes.
        matmul(ctx, ctx.upload(new Float32Array(K).fill(NaN), [1, K], 'f32'), ctx.upload(bytes, [N, K], dtype), y, ctx.upload(b, [N], 'f32'), planes);
        const got = await ctx.readF32(y);
        const ref = matmulRef(x, wq, 1, N, K, b);
        const scale = matmulAbsScale(x, wq, 1, N, K);
        for (let n = 0; n < N; n++) expect(Math.abs(got[n]! - ref[n]!) / scale[n]!, `${dtype} N=${N} K=${K} row ${n}`).toBeLessThan(1e-4);
      }
    },
  );

  it('is ignored where the GEMV does not read planes (f32 weights, several tokens; Q8_0 by default)', async () => {
    const ctx = await gpu();
    {
      const [N, K] = [7, 128];
      const x = randomF32(K, 68);
      const bytes = quantize(randomF32(N * K, 69), 'q8_0');
      const y = ctx.createTensor([1, N], 'f32');
      matmul(ctx, ctx.upload(x, [1, K], 'f32'), ctx.upload(bytes, [N, K], 'q8_0'), y, undefined, createXPlanes(ctx, K)); // planes never written
      const got = await ctx.readF32(y);
      const ref = matmulRef(x, dequantize(bytes, 'q8_0', N * K), 1, N, K);
      for (let n = 0; n < N; n++) expect(got[n]).toBeCloseTo(ref[n]!, 3);
    }
    const [N, K] = [5, 64];
    const x = randomF32(2 * K, 65);
    const w = randomF32(N * K, 66);
    const planes = createXPlanes(ctx, K);
    const y = ctx.createTensor([2, N], 'f32');
    matmul(ctx, ctx.upload(x, [2, K], 'f32'), ctx.upload(w, [N, K], 'f32'), y, undefined, planes);
    const got = await ctx.readF32(y);
    const ref = matmulRef(x, w, 2, N, K);
    for (let i = 0; i < ref.length; i++) expect(got[i]).toBeCloseTo(ref[i]!, 4);
  });

  it('rejects planes of another K, and K that is not whole units of 64', async () => {
    const ctx = await gpu();
    const w = ctx.upload(quantize(randomF32(3 * 128, 67), 'q8_0'), [3, 128], 'q8_0');
    expect(() => matmul(ctx, ctx.createTensor([1, 128], 'f32'), w, ctx.createTensor([1, 3], 'f32'), undefined, createXPlanes(ctx, 64))).toThrow(
      InvalidArgumentError,
    );
    expect(() => createXPlanes(ctx, 96)).toThrow(InvalidArgumentError);
    expect(() => encodeXPlanes(ctx, ctx.createTensor([1, 128], 'f32'), createXPlanes(ctx, 64))).toThrow(InvalidArgumentError);
  });

  it.each([
    [320, 0],
    [1536, 1],
  ])('rmsNorm and addRmsNorm write y in planes too (H = %i, weight offset %i)', async (H, off) => {
    const ctx = await gpu();
    const h = randomF32(H, 71, 2);
    const delta = randomF32(H, 72);
    const w = randomF32(H, 73);
    const planes = createXPlanes(ctx, H);
    const readPlanes = async () => decodeXPlanes(new Uint32Array(await ctx.read(planes, (H / 64) * 144)));

    const y = ctx.createTensor([1, H], 'f32');
    rmsNorm(ctx, ctx.upload(h, [1, H], 'f32'), ctx.upload(w, [H], 'f32'), y, 1e-6, off, planes);
    const want = rmsNormRef(h, w, 1e-6, off);
    const got = await ctx.readF32(y);
    for (let i = 0; i < H; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
    expectWithinPlaneBound(got, await readPlanes());

    const ht = ctx.upload(h, [1, H], 'f32');
    addRmsNorm(ctx, ht, ctx.upload(delta, [1, H], 'f32'), ctx.upload(w, [H], 'f32'), y, 1e-6, off, planes);
    const sum = h.map((v, i) => v + delta[i]!);
    const want2 = rmsNormRef(sum, w, 1e-6, off);
    const got2 = await ctx.readF32(y);
    for (let i = 0; i < H; i++) expect(got2[i]).toBeCloseTo(want2[i]!, 5);
    const res = await ctx.readF32(ht);
    for (let i = 0; i < H; i++) expect(res[i]).toBeCloseTo(sum[i]!, 6);
    expectWithinPlaneBound(got2, await readPlanes());
  });

  it('norms reject planes for several rows or H that is not whole units of 64', async () => {
    const ctx = await gpu();
    const w = ctx.upload(randomF32(64, 74), [64], 'f32');
    expect(() => rmsNorm(ctx, ctx.createTensor([2, 64], 'f32'), w, ctx.createTensor([2, 64], 'f32'), 1e-6, 0, createXPlanes(ctx, 64))).toThrow(
      InvalidArgumentError,
    );
    const w96 = ctx.upload(randomF32(96, 75), [96], 'f32');
    expect(() => rmsNorm(ctx, ctx.createTensor([1, 96], 'f32'), w96, ctx.createTensor([1, 96], 'f32'), 1e-6, 0, createXPlanes(ctx, 64))).toThrow(
      InvalidArgumentError,
    );
  });
});
