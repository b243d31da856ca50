import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import type { DType } from '../../src/gpu/tensor.js';
import { attention } from '../../src/kernels/attention.js';
import { gemvFuses, gemvMerges, matmulFused, matmulSiluGlu } from '../../src/kernels/matmul.js';
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

describe('matmulFused with a decode attention merged as it reads it (AttentionOptions.mergeLater)', () => {
  it.each([
    ['q4_0', 6, 2, 64],
    ['q8_0', 6, 2, 64],
    ['q4_k', 4, 1, 128],
  ] as [DType, number, number, number][])('%s, %i heads on %i kv heads of %i: the same y as the merge dispatch, then the GEMV', async (dtype, nH, nKv, hd) => {
    const ctx = await gpu();
    const K = nH * hd;
    const N = 37;
    const capacity = 2048;
    const bytes = quantize(randomF32(N * K, 81), dtype as EncodeDType);
    const wq = dequantize(bytes, dtype, N * K);
    const w = ctx.upload(bytes, [N, K], dtype);
    expect(gemvMerges(ctx, w)).toBe(true);
    const kCache = ctx.upload(randomF32(capacity * nKv * hd, 82), [capacity, nKv, hd], 'f32');
    const vCache = ctx.upload(randomF32(capacity * nKv * hd, 83), [capacity, nKv, hd], 'f32');
    const q = ctx.upload(randomF32(nH * hd, 84), [1, nH, hd], 'f32');
    const y0 = randomF32(N, 85, 3);
    const o = ctx.createTensor([1, nH, hd], 'f32');
    // 100 positions: 8 chunks of 32 keys; 700: 24 blocks in 12 chunks of 64 (at most 16 chunks to merge); 1500: 48
    // chunks, merged by the attention's own dispatch.
    for (const [end, merged] of [
      [100, true],
      [700, true],
      [1500, false],
    ] as [number, boolean][]) {
      const opts = { startPos: end - 1, scale: 1 / Math.sqrt(hd) };
      const yRef = ctx.upload(y0, [1, N], 'f32');
      expect(attention(ctx, q, kCache, vCache, o, opts)).toBeUndefined();
      matmulFused(ctx, ctx.view(o, [1, K]), w, yRef, undefined, { accumulate: true });
      const want = await ctx.readF32(yRef);
      const xs = Array.from(await ctx.readF32(o), Math.abs);
      const y = ctx.upload(y0, [1, N], 'f32');
      const parts = attention(ctx, q, kCache, vCache, o, { ...opts, mergeLater: true });
      expect(parts !== undefined).toBe(merged);
      if (parts) expect(parts.nChunks).toBe(end === 100 ? 8 : 12);
      matmulFused(ctx, ctx.view(o, [1, K]), w, y, undefined, { accumulate: true, merge: parts });
      const got = await ctx.readF32(y);
      for (let n = 0; n < N; n++) {
        let scale = Math.abs(y0[n]!);
        for (let k = 0; k < K; k++) scale += xs[k]! * Math.abs(wq[n * K + k]!);
        expect(Math.abs(got[n]! - want[n]!) / scale).toBeLessThan(REL);
      }
    }
  });

  it('is not taken with sinks, nor past one query row', async () => {
    const ctx = await gpu();
    const [nH, nKv, hd, capacity] = [4, 2, 64, 512];
    const kCache = ctx.upload(randomF32(capacity * nKv * hd, 91), [capacity, nKv, hd], 'f32');
    const q = ctx.upload(randomF32(2 * nH * hd, 92), [2, nH, hd], 'f32');
    const o = ctx.createTensor([2, nH, hd], 'f32');
    const sinks = ctx.upload(randomF32(nH, 93), [nH], 'f32');
    const one = ctx.view(q, [1, nH, hd]);
    const o1 = ctx.view(o, [1, nH, hd]);
    expect(attention(ctx, one, kCache, kCache, o1, { startPos: 99, scale: 0.1, mergeLater: true })).toBeDefined();
    expect(attention(ctx, one, kCache, kCache, o1, { startPos: 99, scale: 0.1, mergeLater: true, sinks })).toBeUndefined();
    expect(attention(ctx, q, kCache, kCache, o, { startPos: 98, scale: 0.1, mergeLater: true })).toBeUndefined();
  });
});
