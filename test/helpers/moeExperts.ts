import type { GpuContext } from '../../src/gpu/context.js';
import type { DType, Tensor } from '../../src/gpu/tensor.js';
import type { MoeActivation } from '../../src/kernels/moe.js';
import type { MoeExpertWeights } from '../../src/kernels/moeTypes.js';
import { activate, moeRouteRef, type MoeExpertsRefWeights } from '../../src/kernels/ref/moe.js';
import { dequantize, quantize, type EncodeDType } from '../../src/weights/quant/index.js';
import { randomF32 } from './random.js';

// The random MoE layers of the tests of the integer-dot expert kernels (moeGemmInt8.test.ts: prefill, grouped
// GEMMs; moeDecode.test.ts: decode GEMVs), and the error bound both hold them to.

/** One random MoE layer: E experts of H -> I -> H, top-k routing of T tokens. */
export interface MoeCase {
  dtype: DType;
  /** The down stack's dtype where it differs from gate|up's (f32 allowed). */
  downDtype?: DType;
  E: number;
  k: number;
  T: number;
  H: number;
  I: number;
  act?: MoeActivation;
  /** gpt-oss: biases on both stacks and the clamped activation. */
  gptOss?: boolean;
  /** moeExperts adds into the output (it starts at `prior`). */
  accumulate?: boolean;
  /** Every token routed to experts 0 .. k-1 (one expert's list longer than a row tile). */
  skewed?: boolean;
  /** A shared expert of S * I intermediate values (S slots of the routed width), in the routed dtypes. */
  shared?: number;
}

/** A MoeCase uploaded: the CPU side (x, dequantized weights, routing) and the tensors moeExperts takes. */
export interface MoeLayer {
  readonly x: Float32Array;
  readonly w: MoeExpertsRefWeights;
  readonly act: MoeActivation;
  readonly clamp: { limit: number; alpha: number } | undefined;
  readonly route: { ids: Uint32Array; weights: Float32Array };
  /** The router logits [T, E] the routing is the softmax top-k (normalised) of. */
  readonly logits: Float32Array;
  /** What the output holds before moeExperts runs: `prior` with accumulate, else zeros. */
  readonly base: Float32Array;
  /** x [T, H] as a view at 256 bytes into its buffer (a binding boundary). */
  readonly xView: Tensor;
  readonly ids: Tensor;
  readonly weights: Tensor;
  readonly experts: MoeExpertWeights;
  readonly out: Tensor;
  /** The case's shared expert: gateUp [1, 2 S I, H], down [1, H, S I]. */
  readonly shared?: { readonly w: MoeExpertsRefWeights; readonly experts: MoeExpertWeights };
}

/** What the references and moeInt8Bound read of a layer. */
export type MoeLayerRef = Pick<MoeLayer, 'x' | 'w' | 'act' | 'clamp' | 'route'>;

/** The routing options of moeLayer's routing (for `route` of moeExperts, from `logits`). */
export const moeLayerRoute = (k: number) => ({ topK: k, scoring: 'softmax', normTopK: true, scale: 1 }) as const;

/** The random layer of a case (weights quantized to its dtypes, softmax top-k routing of random logits), on the GPU. */
export function moeLayer(ctx: GpuContext, c: MoeCase, seed: number): MoeLayer {
  const { dtype, E, k, T, H, I } = c;
  const downDtype = c.downDtype ?? dtype;
  const x = randomF32(T * H, seed);
  const gateUpBytes = quantize(randomF32(E * 2 * I * H, seed + 1, 0.5), dtype as EncodeDType);
  const downF32 = randomF32(E * H * I, seed + 2, 0.5);
  const downBytes = downDtype === 'f32' ? new Uint8Array(downF32.buffer) : quantize(downF32, downDtype as EncodeDType);
  const w: MoeExpertsRefWeights = {
    gateUp: dequantize(gateUpBytes, dtype, E * 2 * I * H),
    down: downDtype === 'f32' ? downF32 : dequantize(downBytes, downDtype, E * H * I),
    gateUpBias: c.gptOss ? randomF32(E * 2 * I, seed + 3) : undefined,
    downBias: c.gptOss ? randomF32(E * H, seed + 4) : undefined,
  };
  const logits = randomF32(T * E, seed + 5, 3);
  const route = moeRouteRef(logits, T, E, moeLayerRoute(k));
  if (c.skewed) for (let t = 0; t < T; t++) for (let j = 0; j < k; j++) route.ids[t * k + j] = j;
  const base = c.accumulate ? randomF32(T * H, seed + 6) : new Float32Array(T * H);
  let shared: MoeLayer['shared'];
  if (c.shared) {
    const Is = c.shared * I;
    const gu = quantize(randomF32(2 * Is * H, seed + 7, 0.5), dtype as EncodeDType);
    const d = quantize(randomF32(H * Is, seed + 8, 0.5), downDtype as EncodeDType);
    shared = {
      w: { gateUp: dequantize(gu, dtype, 2 * Is * H), down: dequantize(d, downDtype, H * Is) },
      experts: { gateUp: ctx.upload(gu, [1, 2 * Is, H], dtype), down: ctx.upload(d, [1, H, Is], downDtype) },
    };
  }
  return {
    x,
    w,
    act: c.act ?? 'silu',
    clamp: c.gptOss ? { limit: 1.5, alpha: 1.702 } : undefined,
    route,
    logits,
    base,
    xView: ctx.view(ctx.upload(new Float32Array([...new Float32Array(64), ...x]), [T * H + 64], 'f32'), [T, H], 256),
    ids: ctx.upload(route.ids, [T, k], 'u32'),
    weights: ctx.upload(route.weights, [T, k], 'f32'),
    experts: {
      gateUp: ctx.upload(gateUpBytes, [E, 2 * I, H], dtype),
      down: ctx.upload(downBytes, [E, H, I], downDtype),
      gateUpBias: w.gateUpBias && ctx.upload(w.gateUpBias, [E, 2 * I], 'f32'),
      downBias: w.downBias && ctx.upload(w.downBias, [E, H], 'f32'),
    },
    out: ctx.upload(base, [T, H], 'f32'),
    shared,
  };
}

/** A layer's shared expert as a layer of its own: one expert of S * I values, weight 1 for every token. */
export function sharedExpertLayer(c: MoeCase, l: MoeLayer): { c: MoeCase; l: MoeLayerRef } {
  const { T } = c;
  const route = { ids: new Uint32Array(T), weights: new Float32Array(T).fill(1) };
  return { c: { ...c, E: 1, k: 1, I: c.shared! * c.I, shared: undefined }, l: { x: l.x, w: l.shared!.w, act: l.act, clamp: undefined, route } };
}

/**
 * The error bound of the integer-dot expert kernels per output, against the f64 reference over the
 * dequantized weights (moeExpertsRef). The only approximations are the int8 activations: each x within s / 2
 * of s * q (s = max|x of its block of 32| / 127), and (`q8Act`) act the same way before down:
 *   gate|up:  Δg_i = Σ_h |Wg[i, h]| (s_x(h) / 2 + 1e-5 |x_h|)   (Δu_i likewise)
 *   act:      Δa_i = 1.25 * max |act(g', u') - act(g, u)| over g' ∈ g ± Δg, u' ∈ u ± Δu (9 points) + 1e-6 |a_i|
 *   down:     Σ_i |Wd[h, i]| (Δa_i + s_a(i) / 2 + 1e-5 |a_i|), s_a from max(|a| + Δa) of the block (0 without q8Act)
 *   out:      Σ_j |rw_j| * down's bound, + 1e-6
 */
export function moeInt8Bound(c: MoeCase, l: MoeLayerRef, q8Act: boolean): Float64Array {
  const { T, H, I, k } = c;
  const { x, w, act, clamp } = l;
  const { ids, weights: rw } = l.route;
  const out = new Float64Array(T * H);
  const sx = new Float64Array(H);
  const a = new Float64Array(I);
  const da = new Float64Array(I);
  const sa = new Float64Array(I);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < H; b += 32) {
      let m = 0;
      for (let h = b; h < b + 32; h++) m = Math.max(m, Math.abs(x[t * H + h]!));
      for (let h = b; h < b + 32; h++) sx[h] = m / 127;
    }
    for (let j = 0; j < k; j++) {
      const e = ids[t * k + j]!;
      for (let i = 0; i < I; i++) {
        const gr = (e * 2 * I + i) * H;
        const ur = (e * 2 * I + I + i) * H;
        let g = w.gateUpBias ? w.gateUpBias[e * 2 * I + i]! : 0;
        let u = w.gateUpBias ? w.gateUpBias[e * 2 * I + I + i]! : 0;
        let dg = 0;
        let du = 0;
        for (let h = 0; h < H; h++) {
          const xv = x[t * H + h]!;
          g += w.gateUp[gr + h]! * xv;
          u += w.gateUp[ur + h]! * xv;
          dg += Math.abs(w.gateUp[gr + h]!) * (sx[h]! / 2 + 1e-5 * Math.abs(xv));
          du += Math.abs(w.gateUp[ur + h]!) * (sx[h]! / 2 + 1e-5 * Math.abs(xv));
        }
        a[i] = activate(g, u, act, clamp);
        let worst = 0;
        for (const sg of [-1, 0, 1]) for (const su of [-1, 0, 1]) worst = Math.max(worst, Math.abs(activate(g + sg * dg, u + su * du, act, clamp) - a[i]!));
        da[i] = 1.25 * worst + 1e-6 * Math.abs(a[i]!);
      }
      for (let b = 0; b < I; b += 32) {
        let m = 0;
        for (let i = b; i < Math.min(b + 32, I); i++) m = Math.max(m, Math.abs(a[i]!) + da[i]!);
        for (let i = b; i < Math.min(b + 32, I); i++) sa[i] = q8Act ? m / 127 : 0;
      }
      for (let h = 0; h < H; h++) {
        let s = 0;
        for (let i = 0; i < I; i++) s += Math.abs(w.down[(e * H + h) * I + i]!) * (da[i]! + sa[i]! / 2 + 1e-5 * Math.abs(a[i]!));
        out[t * H + h] = out[t * H + h]! + Math.abs(rw[t * k + j]!) * s;
      }
    }
  }
  return out.map((v) => v + 1e-6);
}
