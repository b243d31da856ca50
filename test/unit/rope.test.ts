import { describe, expect, it } from 'vitest';
import { rope } from '../../src/kernels/rope.js';
import { ropeParameters, ropeTable } from '../../src/models/ropeTable.js';
import { ropeRef } from '../../src/kernels/ref/rope.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32, rng } from '../helpers/random.js';

describe('rope kernel', () => {
  // Tolerance 2e-5: |x| <= 2 and f32 angles up to ~7e4 rad; both sides use the same f32 angle.
  it.each([
    ['neox', 3, 5, 37, 20, 0, 1],
    ['neox', 4, 3, 64, 64, 0, 1.2],
    ['interleaved', 3, 4, 24, 16, 8, 1],
    ['neox', 2, 7, 13, 6, 5, 0.9],
    ['interleaved', 5, 2, 64, 64, 0, 1],
  ] as const)('%s T=%i heads=%i stride=%i rotaryDim=%i offset=%i factor=%f', async (layout, T, nH, stride, rd, offset, factor) => {
    const ctx = await gpu();
    const x = randomF32(T * nH * stride, 1, 2);
    const r = rng(2);
    const positions = Uint32Array.from({ length: T }, (_, t) => (t === 0 ? 70000 : Math.floor(r() * 5000)));
    const { invFreq } = ropeTable(ropeParameters({ rope_theta: 10000 }), rd);
    const tx = ctx.upload(x, [T, nH, stride], 'f32');
    const opts = { layout, rotaryDim: rd, offset, attentionFactor: factor };
    rope(ctx, tx, ctx.upload(positions, [T], 'u32'), ctx.upload(invFreq, [rd / 2], 'f32'), opts);
    const got = await ctx.readF32(tx);
    expect(maxAbsDiff(got, ropeRef(x, T, nH, stride, positions, invFreq, opts))).toBeLessThan(2e-5);
  });
});

describe('rope kernel, M-RoPE (3 position rows split by sections)', () => {
  it.each([
    ['neox', 5, 3, 20, 16, 0, [2, 3, 3], 7],
    ['neox', 7, 2, 37, 30, 3, [4, 5, 6], 9],
    ['neox', 3, 4, 24, 8, 0, [2, 2, 0], 3],
    ['interleaved', 4, 3, 13, 12, 1, [0, 6, 0], 4],
  ] as const)('%s T=%i heads=%i stride=%i rotaryDim=%i offset=%i sections=%j rows of %i', async (layout, T, nH, stride, rd, offset, sec, P) => {
    const ctx = await gpu();
    const x = randomF32(T * nH * stride, 3, 2);
    const r = rng(4);
    const positions = Uint32Array.from({ length: 3 * P }, () => Math.floor(r() * 3000));
    const { invFreq } = ropeTable(ropeParameters({ rope_theta: 10000 }), rd);
    const tx = ctx.upload(x, [T, nH, stride], 'f32');
    const opts = { layout, rotaryDim: rd, offset, mropeSections: sec as unknown as [number, number, number] };
    rope(ctx, tx, ctx.upload(positions, [3, P], 'u32'), ctx.upload(invFreq, [rd / 2], 'f32'), opts);
    const got = await ctx.readF32(tx);
    expect(maxAbsDiff(got, ropeRef(x, T, nH, stride, positions, invFreq, opts))).toBeLessThan(2e-5);
  });

  it('equals plain RoPE when the three rows are equal, and checks its sections', async () => {
    const ctx = await gpu();
    const T = 6;
    const x = randomF32(T * 2 * 16, 5, 2);
    const pos = Uint32Array.from({ length: T }, (_, t) => 40 + 3 * t);
    const { invFreq } = ropeTable(ropeParameters({ rope_theta: 10000 }), 16);
    const rows = new Uint32Array(3 * T);
    for (let r = 0; r < 3; r++) rows.set(pos, r * T);
    const a = ctx.upload(x, [T, 2, 16], 'f32');
    const b = ctx.upload(x, [T, 2, 16], 'f32');
    const inv = ctx.upload(invFreq, [8], 'f32');
    rope(ctx, a, ctx.upload(pos, [T], 'u32'), inv, { layout: 'neox', rotaryDim: 16 });
    rope(ctx, b, ctx.upload(rows, [3, T], 'u32'), inv, { layout: 'neox', rotaryDim: 16, mropeSections: [2, 3, 3] });
    expect(maxAbsDiff(await ctx.readF32(a), await ctx.readF32(b))).toBe(0);
    expect(() => rope(ctx, b, ctx.upload(rows, [3, T], 'u32'), inv, { layout: 'neox', rotaryDim: 16, mropeSections: [2, 3, 2] })).toThrow(/sections/);
    expect(() => rope(ctx, b, ctx.upload(pos, [T], 'u32'), inv, { layout: 'neox', rotaryDim: 16, mropeSections: [2, 3, 3] })).toThrow(/\[3, >= 6\]/);
  });
});
