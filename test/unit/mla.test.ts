import { describe, expect, it } from 'vitest';
import { headMatmulRef } from '../../src/kernels/ref/headMatmul.js';
import { mlaKeys, mlaLatent, mlaLatents, mlaQuery, mlaQueryDecode, mlaRopeQuery } from '../../src/kernels/mla.js';
import { mlaExpandRef, mlaLatentRef, mlaQueryRef, mlaRopeQueryRef } from '../../src/kernels/ref/mla.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

const invFreqOf = (P: number) => Float32Array.from({ length: P / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / P));

describe('MLA latent cache and absorbed query', () => {
  // Odd sizes: R = 37, nope = 13, 3 heads; rope dim 6; T = 1 (decode) and 5 at a later start.
  it.each([
    [1, 9],
    [5, 3],
  ])('T=%i from position %i matches the CPU reference within 1e-5', async (T, start) => {
    const ctx = await gpu();
    const R = 37;
    const P = 6;
    const nH = 3;
    const nope = 13;
    const capacity = 16;
    const positions = Uint32Array.from({ length: T }, (_, i) => start + i);
    const invFreq = invFreqOf(P);
    const ckv = randomF32(T * (R + P), 1);
    const normW = randomF32(R, 2);
    const cache0 = randomF32(capacity * (R + P), 3);
    const cache = ctx.upload(cache0, [capacity, 1, R + P], 'f32');
    const pos = ctx.upload(positions, [T], 'u32');
    const inv = ctx.upload(invFreq, [P / 2], 'f32');
    mlaLatent(ctx, ctx.upload(ckv, [T, R + P], 'f32'), ctx.upload(normW, [R], 'f32'), pos, inv, cache, { eps: 1e-6, attentionFactor: 1.25 });
    const want = mlaLatentRef(ckv, T, R, P, normW, positions, invFreq, cache0, capacity, 1e-6, 1.25);
    expect(maxAbsDiff(await ctx.readF32(cache), want)).toBeLessThan(1e-5);

    const q = randomF32(T * nH * (nope + P), 4);
    const qLat = randomF32(T * nH * R, 5);
    const qFull = ctx.createTensor([T, nH, R + P], 'f32');
    mlaQuery(ctx, ctx.upload(q, [T, nH, nope + P], 'f32'), ctx.upload(qLat, [T, nH, R], 'f32'), pos, inv, qFull);
    expect(maxAbsDiff(await ctx.readF32(qFull), mlaQueryRef(q, qLat, T, nH, R, P, nope, positions, invFreq))).toBeLessThan(1e-5);
  });

  // The decode query and cache write in one dispatch, from the q projection's rows [q_nope, q_pe] per head:
  // W_ukᵀ row dots (nope = 12 and 36, multiples of 4), the rope part, and the latents of ckv into the cache.
  it.each([
    [1, 7, 12, 3],
    [3, 40, 36, 5],
  ])(
    'mlaQueryDecode T=%i at position %i (nope %i, %i heads) matches the headMatmul, mlaQuery and mlaLatent references within 1e-5',
    async (T, start, nope, nH) => {
      const ctx = await gpu();
      const R = 37;
      const P = 8;
      const capacity = 16;
      const positions = Uint32Array.from({ length: T }, (_, i) => start + i);
      const invFreq = invFreqOf(P);
      const q = randomF32(T * nH * (nope + P), 6);
      const wUkT = randomF32(nH * R * nope, 8);
      const ckv = randomF32(T * (R + P), 12);
      const normW = randomF32(R, 13);
      const cache0 = randomF32(capacity * (R + P), 14);
      const cache = ctx.upload(cache0, [capacity, 1, R + P], 'f32');
      const qFull = ctx.createTensor([T, nH, R + P], 'f32');
      mlaQueryDecode(
        ctx,
        ctx.upload(q, [T, nH, nope + P], 'f32'),
        ctx.upload(wUkT, [nH, R, nope], 'f32'),
        ctx.upload(positions, [T], 'u32'),
        ctx.upload(invFreq, [P / 2], 'f32'),
        qFull,
        { ckv: ctx.upload(ckv, [T, R + P], 'f32'), normW: ctx.upload(normW, [R], 'f32'), cache, eps: 1e-6 },
        { attentionFactor: 1.25 },
      );
      const qNope = new Float32Array(T * nH * nope);
      for (let th = 0; th < T * nH; th++) qNope.set(q.subarray(th * (nope + P), th * (nope + P) + nope), th * nope);
      const qLat = headMatmulRef(qNope, wUkT, T, nH, nope, R, false);
      const want = mlaQueryRef(q, qLat, T, nH, R, P, nope, positions, invFreq, 1.25);
      expect(maxAbsDiff(await ctx.readF32(qFull), want)).toBeLessThan(1e-5);
      const wantCache = mlaLatentRef(ckv, T, R, P, normW, positions, invFreq, cache0, capacity, 1e-6, 1.25);
      expect(maxAbsDiff(await ctx.readF32(cache), wantCache)).toBeLessThan(1e-5);
    },
  );

  // The naive prefill's expansion: odd R = 37, P = 6, nope = 13, v = 11, 3 heads, 9 of 16 cache rows.
  it('mlaLatents, mlaKeys and mlaRopeQuery match the CPU references exactly (copies) and within 1e-5 (rope)', async () => {
    const ctx = await gpu();
    const d = { numHeads: 3, kvLoraRank: 37, nopeDim: 13, ropeDim: 6, vDim: 11 };
    const { numHeads: nH, kvLoraRank: R, nopeDim: nope, ropeDim: P, vDim } = d;
    const [S, capacity, T] = [9, 16, 4];
    const cache0 = randomF32(capacity * (R + P), 9);
    const kv0 = randomF32(S * nH * (nope + vDim), 10);
    const cache = ctx.upload(cache0, [capacity, 1, R + P], 'f32');
    const c = ctx.createTensor([S, R], 'f32');
    const k = ctx.createTensor([S, nH, nope + P], 'f32');
    const v = ctx.createTensor([S, nH, vDim], 'f32');
    mlaLatents(ctx, cache, c, d);
    mlaKeys(ctx, cache, ctx.upload(kv0, [S, nH, nope + vDim], 'f32'), k, v, d);
    const want = mlaExpandRef(cache0, kv0, S, R, P, nH, nope, vDim);
    expect(maxAbsDiff(await ctx.readF32(c), want.c)).toBe(0);
    expect(maxAbsDiff(await ctx.readF32(k), want.k)).toBe(0);
    expect(maxAbsDiff(await ctx.readF32(v), want.v)).toBe(0);

    const positions = Uint32Array.from({ length: T }, (_, i) => 5 + i);
    const invFreq = invFreqOf(P);
    const q0 = randomF32(T * nH * (nope + P), 11);
    const q = ctx.upload(q0, [T, nH, nope + P], 'f32');
    mlaRopeQuery(ctx, q, ctx.upload(positions, [T], 'u32'), ctx.upload(invFreq, [P / 2], 'f32'), d, 1.25);
    expect(maxAbsDiff(await ctx.readF32(q), mlaRopeQueryRef(q0, T, nH, nope, P, positions, invFreq, 1.25))).toBeLessThan(1e-5);
  });
});
