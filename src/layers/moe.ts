import type { GpuContext } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { matmul } from '../kernels/matmul.js';
import { InvalidArgumentError } from '../errors.js';
import { moeExperts, moeFoldsShared, moeRoute, type MoeActivation, type MoeExpertWeights, type MoeRouteOptions } from '../kernels/moe.js';
import { moeRouterNormed, type NormSpec } from '../kernels/moeRouter.js';

/** A mixture-of-experts feed-forward block's weights. Shared experts are one stacked "expert" of their own. */
export interface MoeWeights {
  readonly router: Tensor; // [E, H]
  readonly routerBias?: Tensor; // [E] f32 (gpt_oss)
  /** [E] f32, added to the scores for selection only (deepseek_v3's e_score_correction_bias). */
  readonly correctionBias?: Tensor;
  readonly experts: MoeExpertWeights; // gateUp [E, 2I, H], down [E, H, I]
  /** Always-on experts (deepseek_v3, qwen2_moe): gateUp [1, 2Is, H], down [1, H, Is]. */
  readonly shared?: MoeExpertWeights;
  /** qwen2_moe: the shared expert's output is scaled by sigmoid(x · sharedGate). */
  readonly sharedGate?: Tensor; // [1, H]
}

/** How a family routes and activates (from its config). */
export interface MoeSettings {
  readonly numExperts: number;
  readonly route: Omit<MoeRouteOptions, 'correctionBias'>;
  readonly act: MoeActivation;
  readonly clamp?: { readonly limit: number; readonly alpha: number };
}

/** A decode token's residual stream h [1, H]: the router reads norm(h), the experts add to h. */
export interface MoeFusedResidual {
  readonly h: Tensor;
  readonly norm: NormSpec;
}

export const isMoe = (w: object): w is MoeWeights => 'router' in w;

/** Routing buffers of the longest chunk, shared by every MoE layer. */
export class MoeScratch {
  readonly logits: Tensor; // [C, E] f32
  readonly ids: Tensor; // [C, k] u32
  readonly weights: Tensor; // [C, k] f32
  readonly sharedIds: Tensor; // [C, 1] u32: zeros (the one shared "expert")
  readonly sharedWeights: Tensor; // [C, 1] f32: ones, or sigmoid(x · sharedGate)
  readonly sharedLogit: Tensor; // [C, 1] f32
  constructor(
    ctx: GpuContext,
    readonly s: MoeSettings,
    readonly maxChunk: number,
  ) {
    const C = maxChunk;
    const k = s.route.topK;
    this.logits = ctx.createTensor([C, s.numExperts], 'f32', 'moe.logits');
    this.ids = ctx.createTensor([C, k], 'u32', 'moe.ids');
    this.weights = ctx.createTensor([C, k], 'f32', 'moe.weights');
    this.sharedIds = ctx.createTensor([C, 1], 'u32', 'moe.sharedIds');
    this.sharedWeights = ctx.upload(new Float32Array(C).fill(1), [C, 1], 'f32', 'moe.sharedWeights');
    this.sharedLogit = ctx.createTensor([C, 1], 'f32', 'moe.sharedLogit');
  }
  tensors(): Tensor[] {
    return [this.logits, this.ids, this.weights, this.sharedIds, this.sharedWeights, this.sharedLogit];
  }
}

/**
 * out[T, H] = Σ_k w_k · expert_k(x) (+ the shared experts): router matmul, routing and expert dispatch on
 * the GPU, reading only the selected experts' weights at decode. x [T, H] is the normed residual.
 * With `fused` (one decode token): x is scratch, written by the router as norm(fused.h), and the experts'
 * outputs are added to fused.h itself (out is fused.h).
 */
export function moeBlock(ctx: GpuContext, s: MoeSettings, w: MoeWeights, scratch: MoeScratch, x: Tensor, out: Tensor, fused?: MoeFusedResidual): void {
  const T = x.shape[0]!;
  const k = s.route.topK;
  const logits = ctx.view(scratch.logits, [T, s.numExperts]);
  const ids = ctx.view(scratch.ids, [T, k]);
  const weights = ctx.view(scratch.weights, [T, k]);
  if (fused) {
    if (T !== 1 || out !== fused.h) throw new InvalidArgumentError(`moeBlock: the fused residual is for one token added to h, got ${T} tokens`);
    moeRouterNormed(ctx, fused.h, fused.norm, w.router, w.routerBias, x, logits);
  } else matmul(ctx, x, w.router, logits, w.routerBias);
  const route = { logits, options: { ...s.route, correctionBias: w.correctionBias } };
  const opts = { clamp: s.clamp, accumulate: !!fused, route };
  // An ungated shared expert rides in the routed experts' decode GEMVs where it can (two dispatches fewer).
  const folded = !!w.shared && !w.sharedGate && moeFoldsShared(ctx, x, k, w.experts, w.shared, opts);
  moeExperts(ctx, x, ids, weights, w.experts, out, s.act, { ...opts, shared: folded ? w.shared : undefined });
  if (!w.shared || folded) return;
  const sharedIds = ctx.view(scratch.sharedIds, [T, 1]);
  let sharedWeights = ctx.view(scratch.sharedWeights, [T, 1]);
  if (w.sharedGate) {
    // sigmoid(x · gate) through the router kernel: one "expert", sigmoid scores, no renormalisation.
    const gl = ctx.view(scratch.sharedLogit, [T, 1]);
    matmul(ctx, x, w.sharedGate, gl);
    sharedWeights = ctx.view(scratch.logits, [T, 1]); // free again once the routed experts are recorded
    moeRoute(ctx, gl, sharedIds, sharedWeights, { topK: 1, scoring: 'sigmoid', normTopK: false, scale: 1 });
  }
  moeExperts(ctx, x, sharedIds, sharedWeights, w.shared, out, s.act, { accumulate: true });
}

/** Where a family keeps its MoE tensors, under `model.layers.{i}.<block>.` (Hugging Face names). */
export interface MoeNames {
  readonly block: string; // 'mlp' | 'block_sparse_moe'
  readonly router: string; // 'gate' | 'router'
  readonly gate: string; // per-expert gate projection: 'gate_proj' | 'w1'
  readonly up: string; // 'up_proj' | 'w3'
  readonly down: string; // 'down_proj' | 'w2'
  readonly shared?: string; // 'shared_experts' | 'shared_expert'
  readonly sharedGate?: string; // 'shared_expert_gate'
  /** Experts stored stacked (granitemoe): gateUp [E, 2I, H] and down [E, H, I] tensor names. */
  readonly stacked?: { readonly gateUp: string; readonly down: string };
  /**
   * Experts fused as gpt-oss stores them: gateUp [E, H, 2I] (gate and up in alternating columns) and
   * down [E, I, H], each with a `<name>_bias` ([E, 2I], [E, H]).
   */
  readonly fused?: { readonly gateUp: string; readonly down: string };
}

/** The MoE part of a family's config. */
export interface MoeConfig extends MoeSettings {
  readonly expertIntermediate: number;
  readonly sharedIntermediate?: number;
  /** Layers with a dense MLP instead (deepseek_v3's first_k_dense_replace, qwen's mlp_only_layers). */
  readonly denseLayers: readonly boolean[];
  readonly names: MoeNames;
}

/** Every tensor inside a weights object (nested objects included), to free them. */
export function tensorsOf(o: object): Tensor[] {
  const out: Tensor[] = [];
  for (const v of Object.values(o)) {
    if (!v || typeof v !== 'object') continue;
    if ('buffer' in v && 'shape' in v) out.push(v as Tensor);
    else out.push(...tensorsOf(v as object));
  }
  return out;
}
