import { describe, expect, it } from 'vitest';
import { activation, add, glu, scale, softcap, type Activation } from '../../src/kernels/elementwise.js';
import { activationArrayRef, addRef, gluRef, scaleRef, softcapRef } from '../../src/kernels/ref/elementwise.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// Tolerance: 2e-5 absolute on values of magnitude <= ~8 (f32 exp/tanh on the GPU vs f64 on the CPU; the
// GPU's erf approximation is accurate to 1.5e-7).
const TOL = 2e-5;
const ACTS: Activation[] = ['silu', 'gelu_tanh', 'gelu_erf', 'quick_gelu', 'relu'];

describe('elementwise', () => {
  // 4099 is odd (scalar path), 4100 a multiple of 4 (vec4 path).
  it.each([4099, 4100])('add, scale, softcap on n=%i (also in place)', async (n) => {
    const ctx = await gpu();
    const a = randomF32(n, 1, 4);
    const b = randomF32(n, 2, 4);
    const ta = ctx.upload(a, [n], 'f32');
    const tb = ctx.upload(b, [n], 'f32');
    const out = ctx.createTensor([n], 'f32');
    add(ctx, ta, tb, out, -0.5);
    expect(maxAbsDiff(await ctx.readF32(out), addRef(a, b, -0.5))).toBeLessThan(TOL);
    scale(ctx, ta, out, 1.25);
    expect(maxAbsDiff(await ctx.readF32(out), scaleRef(a, 1.25))).toBeLessThan(TOL);
    softcap(ctx, ta, out, 3);
    expect(maxAbsDiff(await ctx.readF32(out), softcapRef(a, 3))).toBeLessThan(TOL);
    add(ctx, ta, tb, ta); // out aliases a
    expect(maxAbsDiff(await ctx.readF32(ta), addRef(a, b))).toBeLessThan(TOL);
  });

  it('add with inputs and output as views of one buffer (bound read_write, disjoint)', async () => {
    const ctx = await gpu();
    const n = 53; // views 256 bytes apart, 212 bytes each
    const all = randomF32(3 * 64, 3, 2);
    const buf = ctx.upload(all, [3 * 64], 'f32');
    const a = ctx.view(buf, [n], 0);
    const b = ctx.view(buf, [n], 256);
    const out = ctx.view(buf, [n], 512);
    const av = all.slice(0, n);
    const bv = all.slice(64, 64 + n);
    add(ctx, a, b, out, 2);
    expect(maxAbsDiff(await ctx.readF32(out), addRef(av, bv, 2))).toBeLessThan(TOL);
    add(ctx, a, b, a);
    expect(maxAbsDiff(await ctx.readF32(a), addRef(av, bv))).toBeLessThan(TOL);
  });

  it.each(ACTS)('activation %s on odd and vec4 sizes', async (act) => {
    const ctx = await gpu();
    for (const n of [1001, 1004]) {
      const x = randomF32(n, 4, 8);
      const out = ctx.createTensor([n], 'f32');
      activation(ctx, ctx.upload(x, [n], 'f32'), out, act);
      expect(maxAbsDiff(await ctx.readF32(out), activationArrayRef(x, act))).toBeLessThan(TOL);
    }
  });

  it.each([
    [3, 37, 'silu'],
    [5, 44, 'gelu_tanh'],
    [4, 19, 'gelu_erf'],
  ] as const)('glu T=%i I=%i %s', async (T, I, act) => {
    const ctx = await gpu();
    const gu = randomF32(T * 2 * I, 5, 10);
    const out = ctx.createTensor([T, I], 'f32');
    glu(ctx, ctx.upload(gu, [T, 2 * I], 'f32'), out, act);
    expect(maxAbsDiff(await ctx.readF32(out), gluRef(gu, T, I, act))).toBeLessThan(1e-4);
  });
});
