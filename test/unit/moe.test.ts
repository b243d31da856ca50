import { dequantize, quantize } from '../../src/weights/quant/index.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { moeExperts, moeRoute, type MoeRouteOptions } from '../../src/kernels/moe.js';
import { moeExpertsRef, moeRouteRef } from '../../src/kernels/ref/moe.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

const E = 7;
const H = 40;
const I = 24;

type Mode = Omit<MoeRouteOptions, 'correctionBias'> & { bias?: boolean };
const modes: Record<string, Mode> = {
  'softmax renorm (mixtral, qwen3_moe)': { topK: 3, scoring: 'softmax', normTopK: true, scale: 1 },
  'softmax no renorm (qwen2_moe, olmoe)': { topK: 3, scoring: 'softmax', normTopK: false, scale: 1 },
  'softmax after top-k (granitemoe, gpt_oss)': { topK: 3, scoring: 'softmax', normTopK: false, scale: 1, softmaxAfterTopK: true },
  'sigmoid + bias, scaled (deepseek_v3, no groups)': { topK: 3, scoring: 'sigmoid', normTopK: true, scale: 2.5, bias: true },
  'sigmoid + bias, groups, no renorm': { topK: 3, scoring: 'sigmoid', normTopK: false, scale: 1.5, bias: true, nGroup: 4, topkGroup: 2 },
};

/** Sorted (id, weight) pairs of each token, so that order within a token does not matter. */
function byToken(ids: Uint32Array, w: Float32Array, T: number, k: number): [number, number][][] {
  return Array.from({ length: T }, (_, t) =>
    Array.from({ length: k }, (_, j) => [ids[t * k + j]!, w[t * k + j]!] as [number, number]).sort((a, b) => a[0] - b[0]),
  );
}

describe('moeRoute', () => {
  // Group modes need E divisible by nGroup: 16 experts there, 7 elsewhere.
  it.each(Object.entries(modes))('%s matches the reference (ids exact, weights within 1e-6)', async (_, m) => {
    const ctx = await gpu();
    for (const T of [1, 13]) {
      const e = m.nGroup ? 16 : E;
      const logits = randomF32(T * e, 10 + T, 3);
      const bias = m.bias ? randomF32(e, 11, 0.5) : undefined;
      const ids = ctx.createTensor([T, m.topK], 'u32');
      const w = ctx.createTensor([T, m.topK], 'f32');
      moeRoute(ctx, ctx.upload(logits, [T, e], 'f32'), ids, w, { ...m, correctionBias: bias && ctx.upload(bias, [e], 'f32') });
      const gotIds = new Uint32Array(await ctx.read(ids));
      const gotW = await ctx.readF32(w);
      const ref = moeRouteRef(logits, T, e, { ...m, correctionBias: bias });
      const got = byToken(gotIds, gotW, T, m.topK);
      const want = byToken(ref.ids, ref.weights, T, m.topK);
      expect(got.map((r) => r.map(([i]) => i))).toEqual(want.map((r) => r.map(([i]) => i)));
      expect(
        maxAbsDiff(
          got.flat().map(([, v]) => v),
          want.flat().map(([, v]) => v),
        ),
      ).toBeLessThan(1e-6);
    }
  });
});

describe('moeRoute at model shapes, and ties', () => {
  const shapes: [string, number, Mode, boolean][] = [
    ['qwen3_moe 128 experts top-8', 128, { topK: 8, scoring: 'softmax', normTopK: true, scale: 1 }, false],
    ['deepseek_v2 64 experts top-6, no renorm', 64, { topK: 6, scoring: 'softmax', normTopK: false, scale: 1 }, false],
    [
      'deepseek_v3 256 experts, 8 groups keep 4, top-8',
      256,
      { topK: 8, scoring: 'sigmoid', normTopK: true, scale: 2.5, bias: true, nGroup: 8, topkGroup: 4 },
      false,
    ],
    ['gpt_oss 61 experts top-5 after top-k', 61, { topK: 5, scoring: 'softmax', normTopK: false, scale: 1, softmaxAfterTopK: true }, false],
    ['1000 experts top-64', 1000, { topK: 64, scoring: 'softmax', normTopK: true, scale: 1 }, false],
    ['ties: 128 experts top-8 over logits in steps of 0.5', 128, { topK: 8, scoring: 'softmax', normTopK: true, scale: 1 }, true],
    ['ties: sigmoid + bias, 64 experts, 4 groups', 64, { topK: 6, scoring: 'sigmoid', normTopK: true, scale: 1, bias: true, nGroup: 4, topkGroup: 2 }, true],
  ];
  it.each(shapes)('%s: ids in order and weights as the reference', async (_, e, m, ties) => {
    const ctx = await gpu();
    const T = 3;
    const logits = randomF32(T * e, e + 1, 3);
    if (ties) for (let i = 0; i < logits.length; i++) logits[i] = Math.round(logits[i]! * 2) / 2;
    const bias = m.bias ? (ties ? new Float32Array(e).fill(0.25) : randomF32(e, e + 2, 0.5)) : undefined;
    const ids = ctx.createTensor([T, m.topK], 'u32');
    const w = ctx.createTensor([T, m.topK], 'f32');
    moeRoute(ctx, ctx.upload(logits, [T, e], 'f32'), ids, w, { ...m, correctionBias: bias && ctx.upload(bias, [e], 'f32') });
    const ref = moeRouteRef(logits, T, e, { ...m, correctionBias: bias });
    expect(Array.from(new Uint32Array(await ctx.read(ids)))).toEqual(Array.from(ref.ids));
    expect(maxAbsDiff(await ctx.readF32(w), ref.weights)).toBeLessThan(1e-6);
  });
});

describe('moeExperts f32', () => {
  const cases = [
    [1, 'pairs', 'silu', false, false],
    [13, 'pairs', 'silu', false, false],
    [1, 'grouped', 'silu', false, false],
    [13, 'grouped', 'silu', false, false],
    [13, 'grouped', 'gelu_tanh', false, false],
    [1, 'pairs', 'silu', true, false],
    [13, 'grouped', 'silu', true, true],
    [2, 'pairs', 'gelu_tanh', false, true],
  ] as const;
  it.each(cases)('T=%i path=%s act=%s clamp+bias=%s accumulate=%s matches the reference within 1e-4', async (T, path, act, gptOss, accumulate) => {
    const ctx = await gpu();
    const k = 3;
    const x = randomF32(T * H, 1);
    const logits = randomF32(T * E, 2, 3);
    const gateUp = randomF32(E * 2 * I * H, 3, 0.5);
    const down = randomF32(E * H * I, 4, 0.5);
    const gateUpBias = gptOss ? randomF32(E * 2 * I, 5) : undefined;
    const downBias = gptOss ? randomF32(E * H, 6) : undefined;
    const clamp = gptOss ? { limit: 1.5, alpha: 1.702 } : undefined;
    const prior = randomF32(T * H, 7);
    const route = moeRouteRef(logits, T, E, { topK: k, scoring: 'softmax', normTopK: true, scale: 1 });
    const ids = ctx.upload(route.ids, [T, k], 'u32');
    const w = ctx.upload(route.weights, [T, k], 'f32');
    const out = ctx.upload(accumulate ? prior : new Float32Array(T * H), [T, H], 'f32');
    moeExperts(
      ctx,
      ctx.upload(x, [T, H], 'f32'),
      ids,
      w,
      {
        gateUp: ctx.upload(gateUp, [E, 2 * I, H], 'f32'),
        down: ctx.upload(down, [E, H, I], 'f32'),
        gateUpBias: gateUpBias && ctx.upload(gateUpBias, [E, 2 * I], 'f32'),
        downBias: downBias && ctx.upload(downBias, [E, H], 'f32'),
      },
      out,
      act,
      { clamp, accumulate, path },
    );
    const got = await ctx.readF32(out);
    const want = moeExpertsRef(x, T, H, I, route.ids, route.weights, k, { gateUp, down, gateUpBias, downBias }, act, clamp);
    if (accumulate) for (let i = 0; i < want.length; i++) want[i] = want[i]! + prior[i]!;
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
  });
});

describe('moeExperts with quantized experts (weights read through shaders/weights.wgsl)', () => {
  // The f32 paths (the integer-dot decode GEMVs have their own tests: test/unit/moeDecode.test.ts).
  beforeEach(async () => {
    (await gpu()).kernelOverrides = { moeDecode: { use: false } };
  });
  afterEach(async () => {
    (await gpu()).kernelOverrides = undefined;
  });
  // K of each expert matmul must be whole blocks: H = 5 blocks of 32, I = 3 blocks of 32.
  const [Hq, Iq, Eq, k] = [160, 96, 5, 2];
  it.each([
    ['q8_0', 1, 'pairs'],
    ['q4_0', 1, 'pairs'],
    ['q4_0', 7, 'grouped'],
    ['f16', 3, 'pairs'],
  ] as const)('%s T=%i path=%s matches the dequantized reference within 1e-4 relative', async (dtype, T, path) => {
    const ctx = await gpu();
    const x = randomF32(T * Hq, 21);
    const gateUpBytes = quantize(randomF32(Eq * 2 * Iq * Hq, 22, 0.5), dtype);
    const downBytes = quantize(randomF32(Eq * Hq * Iq, 23, 0.5), dtype);
    const gateUp = dequantize(gateUpBytes, dtype, Eq * 2 * Iq * Hq);
    const down = dequantize(downBytes, dtype, Eq * Hq * Iq);
    const route = moeRouteRef(randomF32(T * Eq, 24, 3), T, Eq, { topK: k, scoring: 'softmax', normTopK: true, scale: 1 });
    const out = ctx.createTensor([T, Hq], 'f32');
    moeExperts(
      ctx,
      ctx.upload(x, [T, Hq], 'f32'),
      ctx.upload(route.ids, [T, k], 'u32'),
      ctx.upload(route.weights, [T, k], 'f32'),
      { gateUp: ctx.upload(gateUpBytes, [Eq, 2 * Iq, Hq], dtype), down: ctx.upload(downBytes, [Eq, Hq, Iq], dtype) },
      out,
      'silu',
      { path },
    );
    const want = moeExpertsRef(x, T, Hq, Iq, route.ids, route.weights, k, { gateUp, down }, 'silu');
    const scale = Math.max(...Array.from(want, Math.abs));
    expect(maxAbsDiff(await ctx.readF32(out), want) / scale).toBeLessThan(1e-4);
  });
});

describe('moeExperts with expert stacks larger than one storage binding', () => {
  afterEach(async () => {
    (await gpu()).kernelOverrides = undefined;
  });
  it.each([
    [1, 'pairs'],
    [13, 'grouped'],
  ] as const)('T=%i path=%s: groups of experts, accumulated, match the reference within 1e-4', async (T, path) => {
    const ctx = await gpu();
    const k = 3;
    // Per-expert sizes that keep group starts 256-byte aligned in every stack.
    const [H, I] = [64, 32];
    const x = randomF32(T * H, 41);
    const gateUp = randomF32(E * 2 * I * H, 42, 0.5);
    const down = randomF32(E * H * I, 43, 0.5);
    const gateUpBias = randomF32(E * 2 * I, 44);
    const downBias = randomF32(E * H, 45);
    const route = moeRouteRef(randomF32(T * E, 46, 3), T, E, { topK: k, scoring: 'softmax', normTopK: true, scale: 1 });
    const prior = randomF32(T * H, 47);
    const out = ctx.upload(prior, [T, H], 'f32');
    const stacks = {
      gateUp: ctx.upload(gateUp, [E, 2 * I, H], 'f32'),
      down: ctx.upload(down, [E, H, I], 'f32'),
      gateUpBias: ctx.upload(gateUpBias, [E, 2 * I], 'f32'),
      downBias: ctx.upload(downBias, [E, H], 'f32'),
    };
    const idsT = ctx.upload(route.ids, [T, k], 'u32');
    const wT = ctx.upload(route.weights, [T, k], 'f32');
    const xT = ctx.upload(x, [T, H], 'f32');
    // A 40,000-byte binding limit: the 7 experts of 16 KiB each run in 4 groups of at most 2.
    ctx.kernelOverrides = { maxBinding: 40000 };
    moeExperts(ctx, xT, idsT, wT, stacks, out, 'silu', { accumulate: true, path });
    ctx.kernelOverrides = undefined;
    const want = moeExpertsRef(x, T, H, I, route.ids, route.weights, k, { gateUp, down, gateUpBias, downBias }, 'silu');
    for (let i = 0; i < want.length; i++) want[i] = want[i]! + prior[i]!;
    expect(maxAbsDiff(await ctx.readF32(out), want)).toBeLessThan(1e-4);
  });
});
