import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { pixelShuffle } from '../../src/kernels/pixelShuffle.js';
import { pixelShuffleRef } from '../../src/kernels/ref/pixelShuffle.js';
import { gpu } from '../helpers/gpu.js';
import { randomF32 } from '../helpers/random.js';

// A gather: the GPU result equals the reference exactly.
describe('pixelShuffle', () => {
  it.each([
    { tiles: 1, h: 4, w: 4, D: 3, s: 2 },
    { tiles: 3, h: 6, w: 9, D: 7, s: 3 }, // odd D, a grid that is not square
    { tiles: 2, h: 8, w: 8, D: 33, s: 4 },
  ])('$tiles tiles of $h x $w, D $D, s $s', async ({ tiles, h, w, D, s }) => {
    const ctx = await gpu();
    const x = randomF32(tiles * h * w * D, 41);
    const rows = (tiles * h * w) / (s * s);
    const out = ctx.createTensor([rows, s * s * D], 'f32');
    pixelShuffle(ctx, ctx.upload(x, [tiles * h * w, D], 'f32'), out, { tiles, h, w, s });
    expect(Array.from(await ctx.readF32(out))).toEqual(Array.from(pixelShuffleRef(x, tiles, h, w, D, s)));
  });

  it('matches transformers on a 4 x 4 grid: row (k, j) holds the 2 x 2 block, its rows in order', () => {
    // x[p, 0] = p: the block at (0, 0) is positions 0, 1, 4, 5; at (0, 1) 2, 3, 6, 7.
    const x = Float32Array.from({ length: 16 }, (_, i) => i);
    expect(Array.from(pixelShuffleRef(x, 1, 4, 4, 1, 2))).toEqual([0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
  });

  it('reads and writes through views at unaligned offsets', async () => {
    const ctx = await gpu();
    const [h, w, D, s] = [2, 2, 5, 2];
    const x = randomF32(3 * h * w * D, 42);
    const second = ctx.view(ctx.upload(x, [3 * h * w, D], 'f32'), [h * w, D], h * w * D * 4); // the second tile: 80 bytes in
    const all = ctx.createTensor([3, s * s * D], 'f32');
    pixelShuffle(ctx, second, ctx.view(all, [1, s * s * D], s * s * D * 4), { tiles: 1, h, w, s });
    const got = await ctx.readF32(all);
    expect(Array.from(got.subarray(s * s * D, 2 * s * s * D))).toEqual(Array.from(pixelShuffleRef(x.subarray(h * w * D, 2 * h * w * D), 1, h, w, D, s)));
  });

  it('rejects grids that are not whole blocks and mismatched shapes', async () => {
    const ctx = await gpu();
    const x = ctx.createTensor([18, 4], 'f32');
    expect(() => pixelShuffle(ctx, x, ctx.createTensor([2, 36], 'f32'), { tiles: 1, h: 3, w: 6, s: 2 })).toThrow(InvalidArgumentError);
    expect(() => pixelShuffle(ctx, x, ctx.createTensor([3, 16], 'f32'), { tiles: 2, h: 3, w: 3, s: 3 })).toThrow(/out must be/);
  });
});
