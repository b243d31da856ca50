import { afterEach, describe, expect, it } from 'vitest';
import type { DType } from '../../src/gpu/tensor.js';
import { moeExperts } from '../../src/kernels/moe.js';
import { moeDecodePlan } from '../../src/kernels/moeDecode.js';
import { moeExpertsRef, moeRouteRef } from '../../src/kernels/ref/moe.js';
import { moeDecodeRef } from '../../src/kernels/ref/moeDecode.js';
import { loadModel } from '../../src/models/load.js';
import { dequantize, quantize } from '../../src/weights/quant/index.js';
import { compareLogits, expected, fixtureFiles } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { moeInt8Bound, moeLayer, type MoeCase } from '../helpers/moeExperts.js';
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
