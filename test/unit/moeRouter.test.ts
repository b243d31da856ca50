import { describe, expect, it } from 'vitest';
import { moeRouterNormed } from '../../src/kernels/moeRouter.js';
import { moeRouterNormedRef } from '../../src/kernels/ref/moeRouter.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

describe('moeRouterNormed kernel', () => {
  // Against rmsNorm's and matmul's references: the norm within 2e-6, logits (sums of H products of |x| <~ 4) within 2e-5.
  it.each([
    { E: 7, H: 36, bias: false, weightOffset: 0 },
    { E: 128, H: 2048, bias: false, weightOffset: 0 },
    { E: 33, H: 1028, bias: true, weightOffset: 1 },
    { E: 1, H: 4, bias: true, weightOffset: 0 },
  ])('E=$E H=$H bias=$bias offset=$weightOffset', async ({ E, H, bias, weightOffset }) => {
    const ctx = await gpu();
    const h = randomF32(H, 1, 3);
    const nw = randomF32(H, 2, 1);
    const router = randomF32(E * H, 3, 0.1);
    const b = bias ? randomF32(E, 4, 1) : undefined;
    const eps = 1e-6;
    const x = ctx.createTensor([1, H], 'f32');
    const logits = ctx.createTensor([1, E], 'f32');
    const norm = { weight: ctx.upload(nw, [H], 'f32'), eps, weightOffset };
    moeRouterNormed(ctx, ctx.upload(h, [1, H], 'f32'), norm, ctx.upload(router, [E, H], 'f32'), b && ctx.upload(b, [E], 'f32'), x, logits);
    const ref = moeRouterNormedRef(h, nw, eps, weightOffset, router, E, b);
    expect(maxAbsDiff(await ctx.readF32(x), ref.x)).toBeLessThan(2e-6 * (1 + weightOffset) * 4);
    expect(maxAbsDiff(await ctx.readF32(logits), ref.logits)).toBeLessThan(2e-5);
  });

  it('rejects mismatched shapes', async () => {
    const ctx = await gpu();
    const t = (shape: number[]) => ctx.createTensor(shape, 'f32');
    const norm = { weight: t([8]), eps: 1e-6, weightOffset: 0 };
    expect(() => moeRouterNormed(ctx, t([1, 8]), norm, t([3, 8]), undefined, t([1, 8]), t([1, 4]))).toThrow(/logits/);
    expect(() => moeRouterNormed(ctx, t([1, 6]), { ...norm, weight: t([6]) }, t([3, 6]), undefined, t([1, 6]), t([1, 3]))).toThrow(/multiple of 4/);
    const h = t([1, 8]);
    expect(() => moeRouterNormed(ctx, h, norm, t([3, 8]), undefined, h, t([1, 3]))).toThrow(/share/);
  });
});
