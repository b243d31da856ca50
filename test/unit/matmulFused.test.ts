import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import type { DType } from '../../src/gpu/tensor.js';
import { gemvFuses, matmulFused, matmulSiluGlu } from '../../src/kernels/matmul.js';
import { matmulAbsScale, matmulRef } from '../../src/kernels/ref/matmul.js';
import { rmsNormRef } from '../../src/kernels/ref/norm.js';
import { dequantize, quantize, type EncodeDType } from '../../src/weights/quant/index.js';
import { gpu } from '../helpers/gpu.js';
import { randomF32 } from '../helpers/random.js';

// The decode GEMV with its neighbours fused: the RMSNorm of its input, the residual add of its output. Tolerance as
// test/unit/matmul.test.ts: |gpu - ref| <= 1e-4 * Σ_k |x_k| |w_nk| per output (ref: the norm, then the dequantized
// weights in f64), plus f32 rounding of the accumulated residual.
const REL = 1e-4;

const dtypes: [DType, number][] = [
  ['q4_0', 448],
  ['q8_0', 320],
  ['q4_k', 768],
];

describe('matmulFused (the integer-dot decode GEMV)', () => {
  it.each(dtypes)('%s K=%i: y = W · rmsNorm(x) (+ bias), the norm computed in the GEMV', async (dtype, K) => {
    const ctx = await gpu();
    const N = 53;
    const x = randomF32(K, 61, 3);
    const nw = randomF32(K, 62);
    const bytes = quantize(randomF32(N * K, 63), dtype as EncodeDType);
    const wq = dequantize(bytes, dtype, N * K);
    const b = randomF32(N, 64);
    const w = ctx.upload(bytes, [N, K], dtype);
    expect(gemvFuses(ctx, w, true)).toBe(true);
    const y = ctx.createTensor([1, N], 'f32');
    for (const offset of [0, 1]) {
      matmulFused(ctx, ctx.upload(x, [1, K], 'f32'), w, y, ctx.upload(b, [N], 'f32'), {
        norm: { weight: ctx.upload(nw, [K], 'f32'), eps: 1e-6, weightOffset: offset },
      });
      const xn = rmsNormRef(x, nw, 1e-6, offset);
      const ref = matmulRef(xn, wq, 1, N, K, b);
      const scale = matmulAbsScale(xn, wq, 1, N, K);
      const got = await ctx.readF32(y);
      for (let n = 0; n < N; n++) expect(Math.abs(got[n]! - ref[n]!) / scale[n]!).toBeLessThan(REL);
    }
  });

  it.each(dtypes)('%s K=%i: y += W · x, and y += W · (silu(gate) * up)', async (dtype, K) => {
    const ctx = await gpu();
    const N = 45;
    const x = randomF32(K, 71, 2);
    const gu = randomF32(2 * K, 72, 2);
    const y0 = randomF32(N, 73, 4);
    const bytes = quantize(randomF32(N * K, 74), dtype as EncodeDType);
    const wq = dequantize(bytes, dtype, N * K);
    const w = ctx.upload(bytes, [N, K], dtype);
    const y = ctx.upload(y0, [1, N], 'f32');
    matmulFused(ctx, ctx.upload(x, [1, K], 'f32'), w, y, undefined, { accumulate: true });
    const a = new Float32Array(K);
    for (let k = 0; k < K; k++) a[k] = (gu[k]! / (1 + Math.exp(-gu[k]!))) * gu[K + k]!;
    expect(matmulSiluGlu(ctx, ctx.upload(gu, [1, 2 * K], 'f32'), w, y, undefined, true)).toBe(true);
    const got = await ctx.readF32(y);
    const r1 = matmulRef(x, wq, 1, N, K);
    const r2 = matmulRef(a, wq, 1, N, K);
    const s1 = matmulAbsScale(x, wq, 1, N, K);
    const s2 = matmulAbsScale(a, wq, 1, N, K);
    for (let n = 0; n < N; n++) {
      const want = y0[n]! + r1[n]! + r2[n]!;
      expect(Math.abs(got[n]! - want) / (s1[n]! + s2[n]! + Math.abs(y0[n]!) * 1e-3)).toBeLessThan(REL);
    }
  });

  it('declines f32 weights and refuses a fused call it cannot take', async () => {
    const ctx = await gpu();
    const w = ctx.upload(randomF32(8 * 64, 81), [8, 64], 'f32');
    expect(gemvFuses(ctx, w, false)).toBe(false);
    expect(() => matmulFused(ctx, ctx.createTensor([1, 64], 'f32'), w, ctx.createTensor([1, 8], 'f32'), undefined, { accumulate: true })).toThrow(
      InvalidArgumentError,
    );
  });
});
