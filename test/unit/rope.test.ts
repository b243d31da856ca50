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
