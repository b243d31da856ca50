import { describe, expect, it } from 'vitest';
import { addRmsNorm, layerNorm, rmsNorm } from '../../src/kernels/norm.js';
import { addRmsNormRef, layerNormRef, rmsNormRef } from '../../src/kernels/ref/norm.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// Tolerance: 1e-5 absolute on outputs of magnitude ~1-3 (f32 sums of up to ~1000 terms vs f64).
const TOL = 1e-5;

describe('norms', () => {
  // H odd (scalar path, one thread per element or fewer), H a multiple of 4 (vec4), a long row (256 threads).
  it.each([
    [5, 37, 0],
    [3, 132, 1],
    [2, 2053, 0],
    [1, 4100, 0],
  ])('rmsNorm rows=%i H=%i offset=%i (and in place)', async (rows, H, off) => {
    const ctx = await gpu();
    const x = randomF32(rows * H, 1, 3);
    const w = randomF32(H, 2);
    const tx = ctx.upload(x, [rows, H], 'f32');
    const tw = ctx.upload(w, [H], 'f32');
    const y = ctx.createTensor([rows, H], 'f32');
    rmsNorm(ctx, tx, tw, y, 1e-6, off);
    const want = rmsNormRef(x, w, 1e-6, off);
    expect(maxAbsDiff(await ctx.readF32(y), want)).toBeLessThan(TOL);
    rmsNorm(ctx, tx, tw, tx, 1e-6, off);
    expect(maxAbsDiff(await ctx.readF32(tx), want)).toBeLessThan(TOL);
  });

  it('rmsNorm per head: x [T, heads, headDim] with a [headDim] weight', async () => {
    const ctx = await gpu();
    const [T, nH, hd] = [3, 5, 12];
    const x = randomF32(T * nH * hd, 3, 2);
    const w = randomF32(hd, 4);
    const tx = ctx.upload(x, [T, nH, hd], 'f32');
    rmsNorm(ctx, tx, ctx.upload(w, [hd], 'f32'), tx, 1e-5);
    expect(maxAbsDiff(await ctx.readF32(tx), rmsNormRef(x, w, 1e-5))).toBeLessThan(TOL);
  });

  it('rmsNorm on 70001 rows (grid beyond 65535 workgroups along x)', async () => {
    const ctx = await gpu();
    const [rows, H] = [70001, 3];
    const x = randomF32(rows * H, 5, 2);
    const w = randomF32(H, 6);
    const y = ctx.createTensor([rows, H], 'f32');
    rmsNorm(ctx, ctx.upload(x, [rows, H], 'f32'), ctx.upload(w, [H], 'f32'), y, 1e-6);
    expect(maxAbsDiff(await ctx.readF32(y), rmsNormRef(x, w, 1e-6))).toBeLessThan(TOL);
  });

  it.each([
    [3, 37, 0],
    [4, 516, 1],
  ])('addRmsNorm rows=%i H=%i offset=%i', async (rows, H, off) => {
    const ctx = await gpu();
    const r = randomF32(rows * H, 7, 2);
    const d = randomF32(rows * H, 8, 2);
    const w = randomF32(H, 9);
    const tr = ctx.upload(r, [rows, H], 'f32');
    const y = ctx.createTensor([rows, H], 'f32');
    addRmsNorm(ctx, tr, ctx.upload(d, [rows, H], 'f32'), ctx.upload(w, [H], 'f32'), y, 1e-6, off);
    const want = addRmsNormRef(r, d, w, 1e-6, off);
    expect(maxAbsDiff(await ctx.readF32(tr), want.residual)).toBeLessThan(1e-6);
    expect(maxAbsDiff(await ctx.readF32(y), want.y)).toBeLessThan(TOL);
  });

  it.each([
    [3, 37, true],
    [2, 260, false],
  ])('layerNorm rows=%i H=%i bias=%s', async (rows, H, withBias) => {
    const ctx = await gpu();
    const x = randomF32(rows * H, 10, 3).map((v) => v + 1.5);
    const w = randomF32(H, 11);
    const b = withBias ? randomF32(H, 12) : undefined;
    const y = ctx.createTensor([rows, H], 'f32');
    layerNorm(ctx, ctx.upload(x, [rows, H], 'f32'), ctx.upload(w, [H], 'f32'), b && ctx.upload(b, [H], 'f32'), y, 1e-5);
    expect(maxAbsDiff(await ctx.readF32(y), layerNormRef(x, w, b, 1e-5))).toBeLessThan(TOL);
  });
});
