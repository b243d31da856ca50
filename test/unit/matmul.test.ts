import { describe, expect, it } from 'vitest';
import { matmul } from '../../src/kernels/matmul.js';
import { matmulRef } from '../../src/kernels/ref/matmul.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

describe('matmul f32', () => {
  // Odd sizes: not multiples of 4 nor of the 16 tile.
  it.each([
    [1, 37, 53, false],
    [7, 19, 33, true],
    [33, 65, 17, true],
  ])('T=%i N=%i K=%i bias=%s matches the CPU reference within 1e-4', async (T, N, K, withBias) => {
    const ctx = await gpu();
    const x = randomF32(T * K, 1);
    const w = randomF32(N * K, 2);
    const b = withBias ? randomF32(N, 3) : undefined;
    const y = ctx.createTensor([T, N], 'f32');
    matmul(ctx, ctx.upload(x, [T, K], 'f32'), ctx.upload(w, [N, K], 'f32'), y, b && ctx.upload(b, [N], 'f32'));
    const got = await ctx.readF32(y);
    expect(maxAbsDiff(got, matmulRef(x, w, T, N, K, b))).toBeLessThan(1e-4);
  });
});
