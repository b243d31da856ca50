import { describe, expect, it } from 'vitest';
import { attention } from '../../src/kernels/attention.js';
import { attentionMlaDecode, attentionMlaFits } from '../../src/kernels/attentionMla.js';
import { headMatmul } from '../../src/kernels/headMatmul.js';
import { attentionRef } from '../../src/kernels/ref/attention.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// The MLA decode kernel (shaders/attentionMla.wgsl), reached through attention() with vFromK on one kv head.
// Tolerance: 2e-5 absolute on outputs of O(1) (f32 online softmax vs the f64 reference).
const TOL = 2e-5;

describe('attention, MLA decode kernel', () => {
  it.each([
    // T, nH, D, Dv, capacity, start: what it covers
    [1, 5, 44, 36, 37, 36, 'two chunks, a head dim of one partial tile'],
    [3, 19, 84, 68, 300, 290, 'two head groups (19 heads), ragged dim tiles, three rows'],
    [1, 3, 528, 520, 40, 5, 'values past 128 vec4s, empty chunks'],
    [2, 4, 48, 32, 20, 0, 'one chunk (direct), from position 0'],
    [4, 16, 96, 64, 700, 650, 'sixteen heads, 651..654 keys over many chunks'],
  ])('T=%i nH=%i D=%i Dv=%i capacity=%i start=%i (%s) matches the CPU reference', async (T, nH, D, Dv, capacity, start) => {
    expect(attentionMlaFits(T, 1, D, Dv, { vFromK: true })).toBe(true);
    const ctx = await gpu();
    const q = randomF32(T * nH * D, 31);
    const k = randomF32(capacity * D, 32);
    const kc = ctx.upload(k, [capacity, 1, D], 'f32');
    const out = ctx.createTensor([T, nH, Dv], 'f32');
    const scale = 0.7 / Math.sqrt(D);
    attention(ctx, ctx.upload(q, [T, nH, D], 'f32'), kc, kc, out, { startPos: start, scale, vFromK: true });
    const want = attentionRef(q, k, k, T, nH, 1, D, Dv, capacity, { startPos: start, scale, vFromK: true });
    expect(maxAbsDiff(await ctx.readF32(out), want)).toBeLessThan(TOL);
  });

  // Both tile widths on the same shapes (the adapter's workgroup memory picks one by default).
  it.each([16, 32] as const)('tiles of %i vec4s match the CPU reference (three rows, 19 heads, ragged tiles, chunks)', async (tileVec4s) => {
    const ctx = await gpu();
    const [T, nH, D, Dv, capacity, start] = [3, 19, 148, 132, 300, 140];
    const q = randomF32(T * nH * D, 41);
    const k = randomF32(capacity * D, 42);
    const kc = ctx.upload(k, [capacity, 1, D], 'f32');
    const out = ctx.createTensor([T, nH, Dv], 'f32');
    const scale = 0.7 / Math.sqrt(D);
    attentionMlaDecode(ctx, ctx.upload(q, [T, nH, D], 'f32'), kc, out, { startPos: start, scale, tileVec4s });
    const want = attentionRef(q, k, k, T, nH, 1, D, Dv, capacity, { startPos: start, scale, vFromK: true });
    expect(maxAbsDiff(await ctx.readF32(out), want)).toBeLessThan(TOL);
  });

  it('is not taken for several kv heads, windows, sinks or head dims not multiples of 4', () => {
    expect(attentionMlaFits(1, 2, 48, 32, { vFromK: true })).toBe(false);
    expect(attentionMlaFits(1, 1, 48, 32, {})).toBe(false);
    expect(attentionMlaFits(1, 1, 48, 32, { vFromK: true, window: 8 })).toBe(false);
    expect(attentionMlaFits(1, 1, 43, 32, { vFromK: true })).toBe(false);
    expect(attentionMlaFits(5, 1, 48, 32, { vFromK: true })).toBe(false);
  });
});

describe('the MLA decode attention merged by W_uv (AttentionOptions.mergeLater, headMatmul with merge)', () => {
  it.each([
    [100, 8],
    [700, 12],
    [1500, 0],
  ])('%i positions: %i chunks left to W_uv (0: merged by the combine), the same output', async (end, chunks) => {
    const ctx = await gpu();
    const [nH, D, Dv, B, capacity] = [5, 68, 52, 24, 1600];
    const k = randomF32(capacity * D, 51);
    const kc = ctx.upload(k, [capacity, 1, D], 'f32');
    const q = ctx.upload(randomF32(nH * D, 52), [1, nH, D], 'f32');
    const wUv = ctx.upload(randomF32(nH * B * Dv, 53), [nH, B, Dv], 'f32');
    const oLat = ctx.createTensor([1, nH, Dv], 'f32');
    const opts = { startPos: end - 1, scale: 0.7 / Math.sqrt(D), vFromK: true };
    const yRef = ctx.createTensor([1, nH, B], 'f32');
    expect(attention(ctx, q, kc, kc, oLat, opts)).toBeUndefined();
    headMatmul(ctx, oLat, wUv, yRef, false);
    const want = await ctx.readF32(yRef);
    const y = ctx.createTensor([1, nH, B], 'f32');
    const parts = attention(ctx, q, kc, kc, oLat, { ...opts, mergeLater: true });
    expect(parts?.nChunks ?? 0).toBe(chunks);
    headMatmul(ctx, oLat, wUv, y, false, parts);
    expect(maxAbsDiff(await ctx.readF32(y), want)).toBeLessThan(1e-4);
  });
});
