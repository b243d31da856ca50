import { describe, expect, it } from 'vitest';
import { attention } from '../../src/kernels/attention.js';
import { headMatmul } from '../../src/kernels/headMatmul.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// DeepSeek MLA two ways. Naive (CPU, f64): per head, k = [W_uk c, k_rope], v = W_uv c,
// out = softmax(q · k * scale) v, with kv_b_proj [nH * (nope + vDim), R] split per head into W_uk [nope, R]
// and W_uv [vDim, R] as transformers' deepseek_v3 does. Absorbed (GPU, as the model runs it): q_lat = W_ukᵀ
// q_nope (headMatmul), attention with one kv head over the latent cache [S, 1, R + P] with V the first R dims
// of each row, then out = W_uv o_lat (headMatmul). Tolerance: 1e-4 absolute on outputs of O(1) (the
// absorbed form sums in another order).
const [nH, R, nope, P, vDim] = [3, 37, 13, 6, 11];
const scale = 1 / Math.sqrt(nope + P);

function naive(qNope: Float32Array, qRope: Float32Array, c: Float32Array, kRope: Float32Array, kvb: Float32Array, T: number, start: number): Float32Array {
  const out = new Float32Array(T * nH * vDim);
  const row = (h: number, i: number) => kvb.subarray((h * (nope + vDim) + i) * R, (h * (nope + vDim) + i + 1) * R);
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i]!, 0);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nH; h++) {
      const keys = start + t + 1;
      const scores: number[] = [];
      const values: number[][] = [];
      for (let j = 0; j < keys; j++) {
        const cj = c.subarray(j * R, (j + 1) * R);
        let s = 0;
        for (let i = 0; i < nope; i++) s += qNope[(t * nH + h) * nope + i]! * dot(row(h, i), cj);
        for (let i = 0; i < P; i++) s += qRope[(t * nH + h) * P + i]! * kRope[j * P + i]!;
        scores.push(s * scale);
        values.push(Array.from({ length: vDim }, (_, i) => dot(row(h, nope + i), cj)));
      }
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let i = 0; i < vDim; i++) out[(t * nH + h) * vDim + i] = e.reduce((a, w, j) => a + w * values[j]![i]!, 0) / z;
    }
  }
  return out;
}

describe('MLA: absorbed projections on the GPU match naive per-head attention', () => {
  it.each([
    [1, 20, 'decode, one chunk'],
    [1, 140, 'decode, keys split over chunks'],
    [7, 30, 'prefill chunk'],
  ])('T=%i from position %i (%s) within 1e-4', async (T, start) => {
    const ctx = await gpu();
    const S = start + T;
    const qNope = randomF32(T * nH * nope, 21);
    const qRope = randomF32(T * nH * P, 22);
    const c = randomF32(S * R, 23);
    const kRope = randomF32(S * P, 24);
    const kvb = randomF32(nH * (nope + vDim) * R, 25, 0.3); // kv_b_proj.weight [nH * (nope + v), R]
    // The loader's split: W_uk [nH, nope, R], W_uv [nH, v, R].
    const wUk = new Float32Array(nH * nope * R);
    const wUv = new Float32Array(nH * vDim * R);
    for (let h = 0; h < nH; h++) {
      wUk.set(kvb.subarray(h * (nope + vDim) * R, (h * (nope + vDim) + nope) * R), h * nope * R);
      wUv.set(kvb.subarray((h * (nope + vDim) + nope) * R, (h + 1) * (nope + vDim) * R), h * vDim * R);
    }
    // The latent cache: one row [c (R), k_rope (P)] per position.
    const cache = new Float32Array(S * (R + P));
    for (let j = 0; j < S; j++) {
      cache.set(c.subarray(j * R, (j + 1) * R), j * (R + P));
      cache.set(kRope.subarray(j * P, (j + 1) * P), j * (R + P) + R);
    }
    const qLat = ctx.createTensor([T, nH, R], 'f32');
    headMatmul(ctx, ctx.upload(qNope, [T, nH, nope], 'f32'), ctx.upload(wUk, [nH, nope, R], 'f32'), qLat, true);
    const lat = await ctx.readF32(qLat);
    const qFull = new Float32Array(T * nH * (R + P));
    for (let th = 0; th < T * nH; th++) {
      qFull.set(lat.subarray(th * R, (th + 1) * R), th * (R + P));
      qFull.set(qRope.subarray(th * P, (th + 1) * P), th * (R + P) + R);
    }
    const kc = ctx.upload(cache, [S, 1, R + P], 'f32');
    const oLat = ctx.createTensor([T, nH, R], 'f32');
    attention(ctx, ctx.upload(qFull, [T, nH, R + P], 'f32'), kc, kc, oLat, { startPos: start, scale, vFromK: true });
    const out = ctx.createTensor([T, nH, vDim], 'f32');
    headMatmul(ctx, oLat, ctx.upload(wUv, [nH, vDim, R], 'f32'), out, false);
    expect(maxAbsDiff(await ctx.readF32(out), naive(qNope, qRope, c, kRope, kvb, T, start))).toBeLessThan(1e-4);
  });
});
