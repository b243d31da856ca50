import { describe, expect, it } from 'vitest';
import { attention } from '../../src/kernels/attention.js';
import { attentionRef } from '../../src/kernels/ref/attention.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// Tolerance: 2e-5 absolute on outputs of O(1) (f32 online softmax vs the f64 reference), as attention.test.ts.
const TOL = 2e-5;

// Non-causal attention (vision encoders): every query sees every key; random odd shapes, tile edges
// (BQ 16/32 rows, BK 32 keys), GQA, hdV != hd, a start past 0, and T <= 4 (which otherwise takes the decode path).
describe('attention without a causal mask (prefill kernel, BIDIRECTIONAL)', () => {
  it.each([
    [17, 4, 4, 8, 8, 0],
    [3, 6, 2, 20, 20, 0],
    [1, 2, 1, 12, 7, 0],
    [70, 3, 3, 72, 72, 0],
    [33, 5, 1, 36, 19, 4],
    [257, 2, 2, 64, 64, 0],
  ])('T=%i nH=%i nKv=%i hd=%i hdV=%i start=%i', async (T, nH, nKv, hd, hdV, start) => {
    const ctx = await gpu();
    const capacity = start + T;
    const q = randomF32(T * nH * hd, 21 + T);
    const k = randomF32(capacity * nKv * hd, 22 + T);
    const v = randomF32(capacity * nKv * hdV, 23 + T);
    const out = ctx.createTensor([T, nH, hdV], 'f32');
    const kc = ctx.upload(k, [capacity, nKv, hd], 'f32');
    const vc = ctx.upload(v, [capacity, nKv, hdV], 'f32');
    attention(ctx, ctx.upload(q, [T, nH, hd], 'f32'), kc, vc, out, { startPos: start, scale: 1 / Math.sqrt(hd), causal: false });
    const want = attentionRef(q, k, v, T, nH, nKv, hd, hdV, capacity, { startPos: start, scale: 1 / Math.sqrt(hd), causal: false });
    expect(maxAbsDiff(await ctx.readF32(out), want)).toBeLessThan(TOL);
    // The causal reference differs (row 0 sees one key): the mask is really off.
    const causal = attentionRef(q, k, v, T, nH, nKv, hd, hdV, capacity, { startPos: start, scale: 1 / Math.sqrt(hd) });
    if (T > 1) expect(maxAbsDiff(want, causal)).toBeGreaterThan(1e-3);
  });

  it('rejects a window or the decode path', async () => {
    const ctx = await gpu();
    const t = ctx.createTensor([4, 2, 8], 'f32');
    expect(() => attention(ctx, t, t, t, ctx.createTensor([4, 2, 8], 'f32'), { startPos: 0, scale: 1, causal: false, window: 2 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => attention(ctx, t, t, t, ctx.createTensor([4, 2, 8], 'f32'), { startPos: 0, scale: 1, causal: false, path: 'decode' })).toThrow(
      InvalidArgumentError,
    );
  });
});
