import { describe, expect, it } from 'vitest';
import { moeExperts, moeRoute, type MoeRouteOptions } from '../../src/kernels/moe.js';
import { moeDecodePlan } from '../../src/kernels/moeDecode.js';
import { moeRouteRef } from '../../src/kernels/ref/moe.js';
import { quantize } from '../../src/weights/quant/index.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// moeExperts with `route` (the router logits routed inside the decode gate|up GEMV, shaders/moeDecodeGateUp.wgsl
// ROUTE, or by moeRoute first where that kernel cannot) against moeRoute then moeExperts: the same ids, weights
// within 1e-6 of moeRoute's (the softmax sums in another order), and so the same experts' outputs (1e-5).
interface Case {
  E: number;
  k: number;
  T: number;
  route: Omit<MoeRouteOptions, 'topK' | 'correctionBias'>;
  /** Logits drawn from a few values, so that equal logits meet (lower ids first). */
  ties?: boolean;
}

describe('MoE decode routing inside the gate|up GEMV', () => {
  it.each<Case>([
    { E: 128, k: 8, T: 1, route: { scoring: 'softmax', normTopK: false, scale: 1 } },
    { E: 60, k: 4, T: 3, route: { scoring: 'softmax', normTopK: true, scale: 2.5 } },
    { E: 32, k: 4, T: 2, route: { scoring: 'softmax', normTopK: false, scale: 1, softmaxAfterTopK: true } },
    { E: 256, k: 6, T: 1, route: { scoring: 'softmax', normTopK: false, scale: 1 }, ties: true },
    { E: 300, k: 2, T: 1, route: { scoring: 'softmax', normTopK: true, scale: 1 } },
    { E: 16, k: 3, T: 1, route: { scoring: 'sigmoid', normTopK: true, scale: 1 } },
  ])('E=$E k=$k T=$T $route.scoring norm=$route.normTopK ties=$ties', async (c) => {
    const ctx = await gpu();
    const { E, k, T } = c;
    const [H, I] = [64, 96];
    const options = { ...c.route, topK: k };
    const logitsF = c.ties ? Float32Array.from(randomF32(T * E, 1, 1), (v) => Math.round(v * 3) / 3) : randomF32(T * E, 1, 3);
    const x = ctx.upload(randomF32(T * H, 2), [T, H], 'f32');
    const experts = {
      gateUp: ctx.upload(quantize(randomF32(E * 2 * I * H, 3, 0.5), 'q8_0'), [E, 2 * I, H], 'q8_0'),
      down: ctx.upload(quantize(randomF32(E * H * I, 4, 0.5), 'q8_0'), [E, H, I], 'q8_0'),
    };
    expect(moeDecodePlan(ctx, x, experts).gateUp).toBe(true);
    const logits = ctx.upload(logitsF, [T, E], 'f32');
    const run = async (inside: boolean) => {
      const ids = ctx.createTensor([T, k], 'u32');
      const weights = ctx.createTensor([T, k], 'f32');
      const out = ctx.createTensor([T, H], 'f32');
      const before = ctx.dispatchCount;
      if (inside) moeExperts(ctx, x, ids, weights, experts, out, 'silu', { route: { logits, options } });
      else {
        moeRoute(ctx, logits, ids, weights, options);
        moeExperts(ctx, x, ids, weights, experts, out, 'silu');
      }
      const dispatches = ctx.dispatchCount - before;
      return { ids: new Uint32Array(await ctx.read(ids)), weights: await ctx.readF32(weights), out: await ctx.readF32(out), dispatches };
    };
    const a = await run(true);
    const b = await run(false);
    const ref = moeRouteRef(logitsF, T, E, options);
    // Routed inside gate|up: one dispatch fewer (softmax routers of at most 256 experts).
    expect(a.dispatches).toBe(E <= 256 && c.route.scoring === 'softmax' ? b.dispatches - 1 : b.dispatches);
    expect(Array.from(a.ids)).toEqual(Array.from(b.ids));
    expect(Array.from(a.ids)).toEqual(Array.from(ref.ids));
    expect(maxAbsDiff(a.weights, b.weights)).toBeLessThan(1e-6);
    expect(maxAbsDiff(a.out, b.out)).toBeLessThan(1e-5 * Math.max(1, ...Array.from(b.out, Math.abs)));
  });
});
