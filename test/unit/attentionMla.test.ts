import { describe, expect, it } from 'vitest';
import { attention } from '../../src/kernels/attention.js';
import { attentionMlaFits, mlaDecodeShape } from '../../src/kernels/attentionMla.js';
import { attentionRef } from '../../src/kernels/ref/attention.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// The MLA decode kernel (shaders/attentionMla.wgsl), reached through attention() with vFromK on one kv head.
// Tolerance: 2e-5 absolute on outputs of O(1) (f32 online softmax vs the f64 reference).
const TOL = 2e-5;

/** attention() on random queries and cache rows of this shape against the CPU reference. */
async function check(T: number, nH: number, D: number, Dv: number, capacity: number, start: number, seed: number): Promise<void> {
  expect(attentionMlaFits(T, 1, D, Dv, { vFromK: true })).toBe(true);
  const ctx = await gpu();
  const q = randomF32(T * nH * D, seed);
  const k = randomF32(capacity * D, seed + 1);
  const kc = ctx.upload(k, [capacity, 1, D], 'f32');
  const out = ctx.createTensor([T, nH, Dv], 'f32');
  const scale = 0.7 / Math.sqrt(D);
  attention(ctx, ctx.upload(q, [T, nH, D], 'f32'), kc, kc, out, { startPos: start, scale, vFromK: true });
  const want = attentionRef(q, k, k, T, nH, 1, D, Dv, capacity, { startPos: start, scale, vFromK: true });
  expect(maxAbsDiff(await ctx.readF32(out), want)).toBeLessThan(TOL);
}

describe('attention, MLA decode kernel', () => {
  it.each([
    // T, nH, D, Dv, capacity, start: what it covers
    [1, 5, 44, 36, 37, 36, 'two chunks, a head dim of one partial tile'],
    [3, 19, 84, 68, 300, 290, 'two head groups (19 heads), ragged dim tiles, three rows'],
    [1, 3, 528, 520, 40, 5, 'values past 128 vec4s, empty chunks'],
    [2, 4, 48, 32, 20, 0, 'one chunk (direct), from position 0'],
    [4, 16, 96, 64, 700, 650, 'sixteen heads, 651..654 keys over many chunks'],
    [1, 16, 96, 64, 1300, 1200, 'past 1,024 positions: the default of 8 heads per workgroup'],
  ])('T=%i nH=%i D=%i Dv=%i capacity=%i start=%i (%s) matches the CPU reference', async (T, nH, D, Dv, capacity, start) => {
    await check(T, nH, D, Dv, capacity, start, 31);
  });

  // The DeepSeek-V2-Lite shape (16 heads, 576 = 512 + 64 dims, values 512) at odd cached lengths: one key, a
  // ragged first block, one key either side of a block and of a chunk, several chunks, a chunk of several blocks.
  it.each([
    // T, start, capacity: keys start + 1 .. start + T
    [1, 0, 64],
    [1, 4, 64],
    [1, 30, 64],
    [1, 32, 64],
    [1, 126, 300],
    [1, 299, 300],
    [2, 31, 64],
    [4, 296, 300],
  ])('DeepSeek-V2-Lite shape, T=%i start=%i capacity=%i matches the CPU reference', async (T, start, capacity) => {
    await check(T, 16, 576, 512, capacity, start, 51);
  });

  // Every override of the kernel's shape (src/gpu/kernelOverrides.ts `mla`): heads per workgroup (with a head
  // count they do not divide), the split's target (one chunk; chunks of one block; chunks of several blocks) and
  // the keys per value step, on ragged cached lengths and chunk boundaries.
  it.each([
    // overrides, T, nH, D, Dv, capacity, start
    [{ headsPerGroup: 1 }, 1, 3, 84, 68, 100, 32],
    [{ headsPerGroup: 2 }, 2, 5, 576, 512, 300, 127],
    [{ headsPerGroup: 3 }, 1, 16, 576, 512, 300, 299],
    [{ headsPerGroup: 4 }, 3, 19, 148, 132, 300, 140],
    [{ headsPerGroup: 5, valueKeys: 8 }, 1, 16, 576, 512, 64, 33],
    [{ valueKeys: 32, headsPerGroup: 8 }, 2, 16, 576, 512, 300, 290],
    [{ valueKeys: 8 }, 1, 7, 528, 520, 300, 200],
    [{ targetWorkgroups: 1, headsPerGroup: 8 }, 1, 16, 576, 512, 300, 299],
    [{ targetWorkgroups: 1, headsPerGroup: 2 }, 1, 4, 96, 64, 700, 650],
    [{ targetWorkgroups: 6 }, 1, 16, 576, 512, 300, 126],
    [{ targetWorkgroups: 4096 }, 4, 16, 576, 512, 300, 296],
    [{ headsPerGroup: 8 }, 1, 16, 576, 512, 64, 32],
    [{ headsPerGroup: 8, targetWorkgroups: 6 }, 3, 16, 576, 512, 300, 124],
  ])('overrides %o, T=%i nH=%i D=%i Dv=%i capacity=%i start=%i match the CPU reference', async (mla, T, nH, D, Dv, capacity, start) => {
    const ctx = await gpu();
    ctx.kernelOverrides = { mla };
    try {
      await check(T, nH, D, Dv, capacity, start, 61);
    } finally {
      ctx.kernelOverrides = undefined;
    }
  });

  it('picks fewer heads per workgroup where the workgroup memory is smaller, and checks the value step', async () => {
    const ctx = await gpu();
    const limit = ctx.limits.maxComputeWorkgroupStorageSize;
    const { HG } = mlaDecodeShape(ctx, 16, 144, 4096);
    expect(HG).toBeGreaterThanOrEqual(1);
    expect(HG).toBeLessThanOrEqual(8);
    if (limit >= 32768) expect(HG).toBe(8);
    expect(mlaDecodeShape(ctx, 16, 144, 256).HG).toBe(4);
    expect(mlaDecodeShape(ctx, 3, 144, 4096).HG).toBeLessThanOrEqual(3);
    ctx.kernelOverrides = { mla: { valueKeys: 12 } };
    try {
      expect(() => mlaDecodeShape(ctx, 16, 144, 256)).toThrow(/valueKeys/);
    } finally {
      ctx.kernelOverrides = undefined;
    }
  });

  it('is not taken for several kv heads, windows, sinks or head dims not multiples of 4', () => {
    expect(attentionMlaFits(1, 2, 48, 32, { vFromK: true })).toBe(false);
    expect(attentionMlaFits(1, 1, 48, 32, {})).toBe(false);
    expect(attentionMlaFits(1, 1, 48, 32, { vFromK: true, window: 8 })).toBe(false);
    expect(attentionMlaFits(1, 1, 43, 32, { vFromK: true })).toBe(false);
    expect(attentionMlaFits(5, 1, 48, 32, { vFromK: true })).toBe(false);
  });
});
