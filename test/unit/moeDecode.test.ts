import { afterEach, describe, expect, it } from 'vitest';
import type { DType } from '../../src/gpu/tensor.js';
import type { GpuContext } from '../../src/gpu/context.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import type { DecoderModel } from '../../src/models/decoder.js';
import { moeExperts, moeFoldsShared, type MoeExpertWeights } from '../../src/kernels/moe.js';
import { moeDecodePlan } from '../../src/kernels/moeDecode.js';
import { moeExpertsRef, moeRouteRef } from '../../src/kernels/ref/moe.js';
import { moeDecodeRef } from '../../src/kernels/ref/moeDecode.js';
import { loadModel } from '../../src/models/load.js';
import { dequantize, quantize } from '../../src/weights/quant/index.js';
import { compareLogits, expected, fixtureFiles } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { moeInt8Bound, moeLayer, moeLayerRoute, sharedExpertLayer, type MoeCase, type MoeLayerRef } from '../helpers/moeExperts.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// MoE decode experts on integer dot products (src/kernels/moeDecode.ts), through moeExperts at T <= 4: within
// moeInt8Bound (test/helpers/moeExperts.ts: the int8 activations are the only approximation) of the f64
// reference over the dequantized weights (moeExpertsRef), and against moeDecodeRef (the same int8 rounding in
// f64) within 1e-4 of the output's scale: what is left there is f32 accumulation order (and a rare rounding tie).

/** moeExperts at decode on random weights: the worst |got - ref| / bound, and against moeDecodeRef. */
async function run(c: MoeCase, seed: number): Promise<{ worst: number; vsInt8Ref: number; plan: { gateUp: boolean; down: boolean } }> {
  const ctx = await gpu();
  const { T, H, I, k } = c;
  const l = moeLayer(ctx, c, seed);
  const plan = moeDecodePlan(ctx, l.xView, l.experts);
  moeExperts(ctx, l.xView, l.ids, l.weights, l.experts, l.out, l.act, { clamp: l.clamp, accumulate: c.accumulate });
  const got = await ctx.readF32(l.out);
  const { ids, weights } = l.route;
  const want = moeExpertsRef(l.x, T, H, I, ids, weights, k, l.w, l.act, l.clamp);
  const int8 = moeDecodeRef(l.x, T, H, I, ids, weights, k, l.w, l.act, l.clamp, plan.down);
  const b = moeInt8Bound(c, l, plan.down);
  const scale = Math.max(...Array.from(int8, Math.abs));
  let worst = 0;
  let vsInt8Ref = 0;
  for (let i = 0; i < want.length; i++) {
    const y = got[i]! - l.base[i]!;
    worst = Math.max(worst, Math.abs(y - want[i]!) / b[i]!);
    vsInt8Ref = Math.max(vsInt8Ref, Math.abs(y - int8[i]!) / scale);
  }
  return { worst, vsInt8Ref, plan };
}

afterEach(async () => {
  (await gpu()).kernelOverrides = undefined;
});

describe('MoE decode experts as integer-dot GEMVs', () => {
  it('is what moeExperts picks at decode for Q4_0 / Q8_0 / Q4_K rows of whole blocks', async () => {
    const ctx = await gpu();
    const stack = (dtype: DType, I: number, H: number, downDtype = dtype) => ({
      gateUp: { buffer: ctx.unused, offset: 0, shape: [4, 2 * I, H], dtype },
      down: { buffer: ctx.unused, offset: 0, shape: [4, H, I], dtype: downDtype },
    });
    const x = { buffer: ctx.unused, offset: 0, shape: [1, 160], dtype: 'f32' as const };
    expect(moeDecodePlan(ctx, x, stack('q4_0', 96, 160))).toEqual({ gateUp: true, down: true });
    expect(moeDecodePlan(ctx, x, stack('q4_k', 96, 256))).toEqual({ gateUp: true, down: false });
    expect(moeDecodePlan(ctx, x, stack('q8_0', 96, 160, 'q6_k'))).toEqual({ gateUp: true, down: false });
    expect(moeDecodePlan(ctx, x, stack('f16', 96, 160))).toEqual({ gateUp: false, down: false });
    expect(moeDecodePlan(ctx, x, stack('q4_0', 96, 80))).toEqual({ gateUp: false, down: false });
    expect(moeDecodePlan(ctx, { ...x, offset: 4 }, stack('q4_0', 96, 160))).toEqual({ gateUp: false, down: false });
    ctx.kernelOverrides = { moeDecode: { use: false } };
    expect(moeDecodePlan(ctx, x, stack('q4_0', 96, 160))).toEqual({ gateUp: false, down: false });
  });

  const shapes: [DType, number, number][] = [
    ['q4_0', 160, 96], // 5 and 3 blocks: rows of 90 and 54 bytes, not word-aligned
    ['q8_0', 224, 160],
    ['q4_k', 768, 256],
  ];
  for (const [dtype, H, I] of shapes) {
    it.each([
      [5, 2, 1],
      [9, 3, 1],
      [9, 4, 4],
    ])(`${dtype} H=${H} I=${I}: E=%i top-%i T=%i within the composed int8 bound`, async (E, k, T) => {
      const r = await run({ dtype, E, k, T, H, I }, E * 100 + k * 10 + T);
      console.log(`${dtype} E=${E} k=${k} T=${T}: worst ${r.worst.toFixed(3)} of the bound, ${r.vsInt8Ref.toExponential(2)} against the int8 reference`);
      expect(r.plan).toEqual({ gateUp: true, down: true });
      expect(r.worst).toBeLessThanOrEqual(1);
      expect(r.vsInt8Ref).toBeLessThan(1e-4);
    });
  }

  it.each([
    ['gelu_tanh', false, false],
    ['silu', true, true],
  ] as const)('act=%s gpt-oss clamp+bias=%s accumulate=%s', async (act, gptOss, accumulate) => {
    for (const dtype of (gptOss ? ['q4_0'] : ['q8_0', 'q4_k']) as DType[]) {
      const H = dtype === 'q4_k' ? 256 : 96;
      const r = await run({ dtype, E: 9, k: 3, T: 2, H, I: 256, act, gptOss, accumulate }, 7);
      expect(r.worst, dtype).toBeLessThanOrEqual(1);
      expect(r.vsInt8Ref, dtype).toBeLessThan(1e-4);
    }
  });

  it('gate|up on integer dot products, down through the f32 combine where its rows are not whole blocks or its dtype is another', async () => {
    for (const c of [
      { dtype: 'q4_k', downDtype: 'f16', E: 5, k: 2, T: 1, H: 256, I: 96 },
      { dtype: 'q8_0', downDtype: 'q6_k', E: 5, k: 2, T: 3, H: 96, I: 256 },
      { dtype: 'q4_0', downDtype: 'f32', E: 5, k: 3, T: 1, H: 96, I: 40, gptOss: true },
    ] as MoeCase[]) {
      const r = await run(c, 31);
      expect(r.plan, c.dtype).toEqual({ gateUp: true, down: false });
      expect(r.worst, c.dtype).toBeLessThanOrEqual(1);
      expect(r.vsInt8Ref, c.dtype).toBeLessThan(1e-4);
    }
  });

  it('other lanes, rows per group and units per step give the same results within the bound', async () => {
    for (const [dtype, gateUpLanes, downLanes, downRows, downUnits] of [
      ['q4_0', 8, 16, 2, 1],
      ['q4_k', 16, 64, 1, 3],
      ['q8_0', 32, 8, 4, 2],
    ] as const) {
      (await gpu()).kernelOverrides = { moeDecode: { gateUpLanes, downLanes, downRows, downUnits } };
      const H = dtype === 'q4_k' ? 512 : 160;
      const what = `${dtype} ${gateUpLanes}/${downLanes}x${downRows}x${downUnits}`;
      const r = await run({ dtype, E: 7, k: 3, T: 2, H, I: 256 }, 5);
      expect(r.worst, what).toBeLessThanOrEqual(1);
      expect(r.vsInt8Ref, what).toBeLessThan(1e-4);
    }
  });
});

// A shared expert (DeepSeek's) folded into the routed experts' two decode GEMVs as S slots of the routed
// width (moeFoldsShared), against the f64 references of routed + shared (the shared expert one expert of its
// own, weight 1) within the sum of both bounds, and against the path that runs it in two dispatches of its own
// (kernelOverrides.moeDecode.foldShared false, as moeBlock does where it does not fold): the same act (the
// slots' blocks of 32 are the shared act's), down's sums in another order.
describe('a shared expert folded into the MoE decode GEMVs', () => {
  it('folds only where moeFoldsShared allows: both halves on integer dot products, its dtypes, Is a multiple of I, no biases, K + S <= 64, no clamp, the bindings', async () => {
    const ctx = await gpu();
    const t = (shape: number[], dtype: DType): Tensor => ({ buffer: ctx.unused, offset: 0, shape, dtype });
    const stack = (E: number, I: number, H: number, dtype: DType = 'q4_0', downDtype = dtype): MoeExpertWeights => ({
      gateUp: t([E, 2 * I, H], dtype),
      down: t([E, H, I], downDtype),
    });
    const x = t([1, 160], 'f32');
    const experts = stack(4, 96, 160);
    const route = { logits: t([1, 4], 'f32'), options: moeLayerRoute(2) };
    const folds = (shared: MoeExpertWeights, opts = {}, k = 2, e = experts, on: GpuContext = ctx, xt = x) => moeFoldsShared(on, xt, k, e, shared, opts);
    expect(folds(stack(1, 192, 160))).toBe(true);
    expect(folds(stack(1, 288, 160), { route })).toBe(ctx.limits.maxStorageBuffersPerShaderStage >= 8);
    expect(folds(stack(1, 96 * 62, 160))).toBe(true); // K + S = 64
    expect(folds(stack(1, 96 * 62, 160), {}, 3)).toBe(false);
    expect(folds(stack(1, 144, 160))).toBe(false); // Is = 1.5 I
    expect(folds(stack(1, 192, 160, 'q8_0'))).toBe(false);
    expect(folds(stack(1, 192, 160, 'q4_0', 'q8_0'))).toBe(false);
    expect(folds({ ...stack(1, 192, 160), downBias: t([1, 160], 'f32') })).toBe(false);
    expect(folds(stack(1, 192, 160), { clamp: { limit: 7, alpha: 1.702 } })).toBe(false);
    expect(folds(stack(1, 192, 160), {}, 2, experts, ctx, t([5, 160], 'f32'))).toBe(false); // 5 tokens: the grouped path
    expect(folds(stack(1, 192, 256, 'q4_k'), {}, 2, stack(4, 96, 256, 'q4_k'))).toBe(false); // routed down not on integer dot products
    expect(folds(stack(1, 512, 256, 'q4_k'), {}, 2, stack(4, 256, 256, 'q4_k'))).toBe(true);
    // With 7 storage buffers a stage: gate|up with its own routing would bind 8.
    const limits = new Proxy(ctx.limits, { get: (l, k) => (k === 'maxStorageBuffersPerShaderStage' ? 7 : Reflect.get(l, k)) });
    const seven = Object.create(ctx, { limits: { value: limits } }) as GpuContext;
    expect(folds(stack(1, 192, 160), { route }, 2, experts, seven)).toBe(false);
    expect(folds(stack(1, 192, 160), {}, 2, experts, seven)).toBe(true);
    ctx.kernelOverrides = { moeDecode: { foldShared: false } };
    expect(folds(stack(1, 192, 160))).toBe(false);
  });

  /** moeExperts with the case's shared expert, folded or (fold false) as moeBlock runs it otherwise; with `route` from the router logits. */
  async function runShared(c: MoeCase, seed: number, route: boolean, fold: boolean) {
    const ctx = await gpu();
    const { T, H, k } = c;
    const l = moeLayer(ctx, c, seed);
    const shared = l.shared!.experts;
    const ids = route ? ctx.createTensor([T, k], 'u32') : l.ids;
    const weights = route ? ctx.createTensor([T, k], 'f32') : l.weights;
    const opts = { accumulate: c.accumulate, route: route ? { logits: ctx.upload(l.logits, [T, c.E], 'f32'), options: moeLayerRoute(k) } : undefined };
    ctx.kernelOverrides = fold ? undefined : { moeDecode: { foldShared: false } };
    const folds = moeFoldsShared(ctx, l.xView, k, l.experts, shared, opts);
    const before = ctx.dispatchCount;
    moeExperts(ctx, l.xView, ids, weights, l.experts, l.out, l.act, { ...opts, shared: folds ? shared : undefined });
    if (!folds) {
      const ones = ctx.upload(new Float32Array(T).fill(1), [T, 1], 'f32');
      moeExperts(ctx, l.xView, ctx.upload(new Uint32Array(T), [T, 1], 'u32'), ones, shared, l.out, l.act, { accumulate: true });
    }
    const dispatches = ctx.dispatchCount - before;
    ctx.kernelOverrides = undefined;
    const got = await ctx.readF32(l.out);
    const routedIds = new Uint32Array(await ctx.read(ids));
    const s = sharedExpertLayer(c, l);
    const refs: { c: MoeCase; l: MoeLayerRef }[] = [{ c, l }, s];
    const sum = (parts: ArrayLike<number>[]) => Float64Array.from(parts[0]!, (_, i) => parts.reduce((a, p) => a + p[i]!, 0));
    const want = sum(refs.map((r) => moeExpertsRef(r.l.x, T, H, r.c.I, r.l.route.ids, r.l.route.weights, r.c.k, r.l.w, r.l.act, r.l.clamp)));
    const int8 = sum(refs.map((r) => moeDecodeRef(r.l.x, T, H, r.c.I, r.l.route.ids, r.l.route.weights, r.c.k, r.l.w, r.l.act, r.l.clamp, true)));
    const bound = sum(refs.map((r) => moeInt8Bound(r.c, r.l, true)));
    const y = Float64Array.from(got, (v, i) => v - l.base[i]!);
    const scale = Math.max(...Array.from(int8, Math.abs));
    let worst = 0;
    let vsInt8Ref = 0;
    for (let i = 0; i < y.length; i++) {
      worst = Math.max(worst, Math.abs(y[i]! - want[i]!) / bound[i]!);
      vsInt8Ref = Math.max(vsInt8Ref, Math.abs(y[i]! - int8[i]!) / scale);
    }
    return { folds, dispatches, y, scale, worst, vsInt8Ref, idsMatch: Array.from(routedIds).join() === Array.from(l.route.ids).join() };
  }

  it.each<[DType, number, number, number, number, boolean]>([
    // dtype, H, I, S, T, route
    ['q4_0', 160, 96, 3, 1, true],
    ['q4_0', 160, 96, 2, 3, false],
    ['q8_0', 224, 96, 2, 1, false],
    ['q8_0', 224, 96, 3, 3, true],
    ['q4_k', 256, 256, 2, 3, true],
    ['q4_k', 256, 256, 3, 1, false],
  ])('%s H=%i I=%i S=%i T=%i route=%s: routed + shared within the bound, the same as the separate dispatches', async (dtype, H, I, S, T, route) => {
    const c: MoeCase = { dtype, E: 7, k: 3, T, H, I, shared: S, accumulate: true };
    const seed = 300 + S * 10 + T;
    const folded = await runShared(c, seed, route, true);
    const apart = await runShared(c, seed, route, false);
    console.log(
      `${dtype} S=${S} T=${T} route=${route}: worst ${folded.worst.toFixed(3)} of the bound, ${folded.vsInt8Ref.toExponential(2)} against the int8 reference`,
    );
    expect(folded.folds).toBe(true);
    expect(apart.folds).toBe(false);
    // Softmax routing of 7 experts runs inside gate|up either way.
    expect(folded.dispatches).toBe(2);
    expect(apart.dispatches).toBe(4);
    expect(folded.idsMatch && apart.idsMatch).toBe(true);
    for (const r of [folded, apart]) {
      expect(r.worst).toBeLessThanOrEqual(1);
      expect(r.vsInt8Ref).toBeLessThan(1e-4);
    }
    expect(maxAbsDiff(Float32Array.from(folded.y), Float32Array.from(apart.y)) / folded.scale).toBeLessThan(1e-5);
  });
});

// MoE fixtures quantized at load, the prompt's first positions decoded one token per forward (every MoE layer through the
// integer-dot decode GEMVs), against the f32 logits with models.quant.test.ts's thresholds. As in
// moeGemmInt8.test.ts, top-1 against f32 is held to the threshold or to what the f32 pairs path on the same
// weights reaches, less one position, and the int8 activations alone, against that path, to the q8_0
// thresholds. Steps are recorded afresh (ctx.replay off): a captured step would replay the first path.
const limits = {
  q8_0: { meanKl: 0.005, top1: 0.9 },
  q4_0: { meanKl: 0.1, top1: 0.66 },
} as const;

describe.each([
  ['qwen3_moe', ['q8_0', 'q4_0']],
  ['qwen2_moe', ['q8_0']],
  ['deepseek_v3', ['q4_0']],
  ['gpt_oss', ['q8_0']],
] as const)('fixture %s quantized at load, decoded token by token through the int8 decode GEMVs', (name, dtypes) => {
  it.each(dtypes)('%s: top-1 agreement and mean KL against f32', async (dtype) => {
    const ctx = await gpu();
    const exp = await expected(name);
    const T = Math.min(exp.inputIds.length, 6); // the first 6 positions: decode steps recorded afresh are slow here
    const model = await loadModel(ctx, fixtureFiles(name), { dtype, maxContext: T });
    ctx.replay = false;
    try {
      const V = model.info.vocabSize;
      const decode = async () => {
        const out = new Float32Array(T * V);
        for (let t = 0; t < T; t++) out.set(await ctx.readF32(model.forward([exp.inputIds[t]!], t)), t * V);
        return out;
      };
      const logits = await decode();
      ctx.kernelOverrides = { moeDecode: { use: false } };
      const f32Path = await decode();
      const ref = exp.logits.subarray(0, T * V);
      const r = compareLogits(ref, logits, V);
      const base = compareLogits(ref, f32Path, V);
      const vsF32Path = compareLogits(f32Path, logits, V);
      console.log(
        `${name} ${dtype} decode int8 GEMVs: mean KL ${r.meanKl.toFixed(5)}, top-1 ${(100 * r.top1).toFixed(1)}% (f32 pairs path: ${base.meanKl.toFixed(5)}, ${(100 * base.top1).toFixed(1)}%); ` +
          `against the f32 pairs path: KL ${vsF32Path.meanKl.toExponential(2)}, top-1 ${(100 * vsF32Path.top1).toFixed(1)}%`,
      );
      expect(Array.from(logits)).not.toEqual(Array.from(f32Path));
      expect(r.meanKl).toBeLessThan(limits[dtype].meanKl);
      expect(r.top1).toBeGreaterThanOrEqual(Math.min(limits[dtype].top1, base.top1 - 1 / T));
      expect(vsF32Path.meanKl).toBeLessThan(limits.q8_0.meanKl);
      expect(vsF32Path.top1).toBeGreaterThanOrEqual(limits.q8_0.top1);
    } finally {
      ctx.replay = true;
      model.dispose();
    }
  });
});

// The DeepSeek fixtures (1 and 2 shared slots) quantized at load: a decode step with the shared experts folded has
// two dispatches fewer per MoE layer than with them apart (kernelOverrides.moeDecode.foldShared false), and
// the same logits (down's sums in another order); replayed steps (src/gpu/capture.ts) give the recorded logits.
describe.each([
  ['deepseek_v3', 2],
  ['deepseek_v3_nolora', 2],
] as const)("fixture %s q4_0: the shared experts in the routed experts' decode GEMVs", (name, moeLayers) => {
  it(`${moeLayers} MoE layers: ${2 * moeLayers} dispatches fewer, the same logits, replayed as recorded`, async () => {
    const ctx = await gpu();
    const exp = await expected(name);
    const model = (await loadModel(ctx, fixtureFiles(name), { dtype: 'q4_0', maxContext: 4 })) as DecoderModel;
    const ids = exp.inputIds.slice(0, 4);
    const step = async (t: number) => {
      const d0 = ctx.dispatchCount;
      const logits = (await ctx.readF32(model.forward([ids[t]!], t))).slice();
      return { logits, dispatches: ctx.dispatchCount - d0 };
    };
    try {
      ctx.replay = false;
      ctx.kernelOverrides = { moeDecode: { foldShared: false } };
      const apart = await step(0);
      ctx.kernelOverrides = undefined;
      const folded = await step(0); // last, so that the steps after it read its cache row
      expect(apart.dispatches - folded.dispatches).toBe(2 * moeLayers);
      const scale = Math.max(...Array.from(apart.logits, Math.abs));
      expect(maxAbsDiff(folded.logits, apart.logits) / scale).toBeLessThan(1e-5);
      const recorded = [folded.logits];
      for (let t = 1; t < ids.length; t++) recorded.push((await step(t)).logits);
      ctx.replay = true;
      const r0 = model.decodeStep.replayed;
      for (let t = 0; t < ids.length; t++) expect(Array.from((await step(t)).logits), `position ${t}`).toEqual(Array.from(recorded[t]!));
      expect(model.decodeStep.replayed - r0).toBe(ids.length - 1);
    } finally {
      ctx.replay = true;
      ctx.kernelOverrides = undefined;
      model.dispose();
    }
  });
});

describe('MoE decode experts on integer dot products over expert stacks larger than one storage binding', () => {
  afterEach(async () => {
    (await gpu()).kernelOverrides = undefined;
  });
  it('q4_0 groups of experts, accumulated, match the int8 reference', async () => {
    const ctx = await gpu();
    // Per expert: gate|up 64 rows of 36 bytes, down 64 rows of 18: group starts 256-byte aligned every 2 experts.
    const [E, k, T, H, I] = [7, 3, 2, 64, 32];
    const x = randomF32(T * H, 51);
    const gateUpBytes = quantize(randomF32(E * 2 * I * H, 52, 0.5), 'q4_0');
    const downBytes = quantize(randomF32(E * H * I, 53, 0.5), 'q4_0');
    const w = { gateUp: dequantize(gateUpBytes, 'q4_0', E * 2 * I * H), down: dequantize(downBytes, 'q4_0', E * H * I) };
    const route = moeRouteRef(randomF32(T * E, 54, 3), T, E, { topK: k, scoring: 'softmax', normTopK: true, scale: 1 });
    const prior = randomF32(T * H, 55);
    const out = ctx.upload(prior, [T, H], 'f32');
    const experts = { gateUp: ctx.upload(gateUpBytes, [E, 2 * I, H], 'q4_0'), down: ctx.upload(downBytes, [E, H, I], 'q4_0') };
    const xT = ctx.upload(x, [T, H], 'f32');
    const ids = ctx.upload(route.ids, [T, k], 'u32');
    const rw = ctx.upload(route.weights, [T, k], 'f32');
    ctx.kernelOverrides = { maxBinding: 6000 }; // 7 experts of 2304 + 1152 bytes: 4 groups of at most 2
    moeExperts(ctx, xT, ids, rw, experts, out, 'silu', { accumulate: true });
    ctx.kernelOverrides = undefined;
    const want = moeDecodeRef(x, T, H, I, route.ids, route.weights, k, w, 'silu', undefined, true);
    const got = await ctx.readF32(out);
    const scale = Math.max(...Array.from(want, Math.abs));
    expect(
      maxAbsDiff(
        Float32Array.from(got, (v, i) => v - prior[i]!),
        want,
      ) / scale,
    ).toBeLessThan(1e-4);
  });
});
