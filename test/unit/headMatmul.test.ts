import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { headMatmul } from '../../src/kernels/headMatmul.js';
import { headMatmulRef } from '../../src/kernels/ref/headMatmul.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// Tolerance: 1e-5 absolute; outputs are sums of up to 53 products of values in [-1, 1], in f32 (2e-5 for 520).
describe('headMatmul', () => {
  // T <= 4 runs the matrix-vector entries (rows / rowDot / colDot), T = 19 and 70 the tiled one (tiles of 64 tokens x 64 outputs); odd A, B, H.
  it.each([
    [1, 5, 37, 19, false],
    [1, 5, 37, 19, true],
    // A % 4 == 0: the vec4 row-dot entry (headMatmulRows), 4 to 32 lanes per row.
    [1, 5, 36, 19, false],
    [3, 3, 132, 7, false],
    [4, 2, 520, 9, false],
    [3, 3, 53, 41, false],
    [4, 3, 41, 53, true],
    [19, 3, 37, 23, false],
    [19, 3, 37, 23, true],
    [70, 2, 21, 67, false],
    [70, 2, 21, 67, true],
  ])('T=%i H=%i A=%i B=%i transposeW=%s matches the CPU reference within 1e-5', async (T, H, A, B, transposeW) => {
    const ctx = await gpu();
    const x = randomF32(T * H * A, 3);
    const w = randomF32(H * A * B, 4);
    const y = ctx.createTensor([T, H, B], 'f32');
    headMatmul(ctx, ctx.upload(x, [T, H, A], 'f32'), ctx.upload(w, transposeW ? [H, A, B] : [H, B, A], 'f32'), y, transposeW);
    expect(maxAbsDiff(await ctx.readF32(y), headMatmulRef(x, w, T, H, A, B, transposeW))).toBeLessThan(A > 100 ? 2e-5 : 1e-5);
  });

  // x rows longer than A (MLA's q rows [q_nope, q_pe]): the first A of each row are read, by every entry.
  it.each([
    [2, 3, 36, 11, 44, false],
    [2, 3, 37, 11, 42, false],
    [2, 3, 37, 11, 42, true],
    [21, 3, 36, 11, 44, false],
  ])('T=%i H=%i A=%i B=%i with x rows of %i (transposeW=%s) matches the CPU reference', async (T, H, A, B, xS, transposeW) => {
    const ctx = await gpu();
    const xs = randomF32(T * H * xS, 5);
    const x = new Float32Array(T * H * A);
    for (let r = 0; r < T * H; r++) x.set(xs.subarray(r * xS, r * xS + A), r * A);
    const w = randomF32(H * A * B, 6);
    const y = ctx.createTensor([T, H, B], 'f32');
    headMatmul(ctx, ctx.upload(xs, [T, H, xS], 'f32'), ctx.upload(w, transposeW ? [H, A, B] : [H, B, A], 'f32'), y, transposeW);
    expect(maxAbsDiff(await ctx.readF32(y), headMatmulRef(x, w, T, H, A, B, transposeW))).toBeLessThan(1e-5);
  });

  it('rejects weights of the wrong orientation', async () => {
    const ctx = await gpu();
    const x = ctx.createTensor([1, 2, 5], 'f32');
    const y = ctx.createTensor([1, 2, 3], 'f32');
    expect(() => headMatmul(ctx, x, ctx.createTensor([2, 5, 3], 'f32'), y, false)).toThrow(InvalidArgumentError);
    expect(() => headMatmul(ctx, x, ctx.createTensor([2, 3, 5], 'f32'), y, true)).toThrow(InvalidArgumentError);
  });
});
