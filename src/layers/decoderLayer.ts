import type { GpuContext } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { scale, type Activation } from '../kernels/elementwise.js';
import { addRmsNorm, rmsNorm } from '../kernels/norm.js';
import type { LayerKv } from './layerKv.js';
import { selfAttention, type AttentionDims, type AttentionScratch, type AttentionWeights, type Step } from './attention.js';
import { isMla, mlaAttention, mlaFuses, type MlaDims, type MlaScratch, type MlaWeights } from './mla.js';
import { fusedGatedMlp, gatedMlp, type MlpScratch, type MlpWeights } from './mlp.js';
import { gemvFuses } from '../kernels/matmul.js';
import { isMoe, moeBlock, type MoeScratch, type MoeSettings, type MoeWeights } from './moe.js';

export interface DecoderLayerWeights {
  readonly inputNorm: Tensor; // [H]
  readonly attn: AttentionWeights | MlaWeights;
  /** Gemma: norm of the attention output before the residual add. */
  readonly postAttnNorm?: Tensor; // [H]
  readonly mlpNorm: Tensor; // [H]
  readonly mlp: MlpWeights | MoeWeights;
  /** Gemma: norm of the MLP output before the residual add. */
  readonly postMlpNorm?: Tensor; // [H]
}

export interface DecoderLayerRun {
  readonly dims: AttentionDims;
  readonly activation: Activation;
  readonly eps: number;
  readonly normWeightOffset: number;
  readonly attnScratch: AttentionScratch;
  readonly mlpScratch: MlpScratch;
  /** MoE families (src/layers/moe.ts) and MLA attention (src/layers/mla.ts). */
  readonly moe?: { readonly settings: MoeSettings; readonly scratch: MoeScratch };
  readonly mla?: { readonly dims: MlaDims; readonly scratch: MlaScratch };
  /** granitemoe's residual_multiplier on the attention output (its MoE output is scaled by the router). */
  readonly attnResidualScale?: number;
}

/**
 * x [1, H] in planes (src/kernels/xPlanes.ts) for the decode GEMVs that read them: `attn` holds x's planes on
 * entry (the q|k|v GEMV reads them); the norm before the MLP writes them into `mlp`, the last norm into `next`.
 */
export interface LayerPlanes {
  readonly attn?: Tensor;
  readonly mlp?: Tensor;
  readonly next?: Tensor;
}

/**
 * One pre-norm decoder layer. On entry h [T, H] is the residual stream and x = inputNorm(h); on exit h is
 * the layer's output and x = nextNorm(h) (the next layer's input norm, or the final norm), so every
 * residual add is fused with the norm that follows it. delta [T, H] is scratch.
 */
export function decoderLayer(
  ctx: GpuContext,
  r: DecoderLayerRun,
  w: DecoderLayerWeights,
  kv: LayerKv,
  rope: { invFreq: Tensor; attentionFactor: number },
  step: Step,
  h: Tensor,
  x: Tensor,
  delta: Tensor,
  nextNorm: Tensor,
  planes: LayerPlanes = {},
): void {
  const { eps, normWeightOffset: off } = r;
  if (isMla(w.attn)) mlaAttention(ctx, r.mla!.dims, w.attn, kv.k, rope.invFreq, rope.attentionFactor, r.mla!.scratch, step, x, delta);
  else selfAttention(ctx, r.dims, w.attn, kv, rope.invFreq, rope.attentionFactor, r.attnScratch, step, x, delta, planes.attn);
  if (r.attnResidualScale !== undefined) scale(ctx, delta, delta, r.attnResidualScale);
  if (w.postAttnNorm) rmsNorm(ctx, delta, w.postAttnNorm, delta, eps, off);
  addRmsNorm(ctx, h, delta, w.mlpNorm, x, eps, off, planes.mlp);
  if (isMoe(w.mlp)) moeBlock(ctx, r.moe!.settings, w.mlp, r.moe!.scratch, x, delta);
  else gatedMlp(ctx, w.mlp, r.activation, r.mlpScratch, x, delta, planes.mlp);
  if (w.postMlpNorm) rmsNorm(ctx, delta, w.postMlpNorm, delta, eps, off);
  addRmsNorm(ctx, h, delta, nextNorm, x, eps, off, planes.next);
}

/**
 * Whether a decode token can run this layer with its norms and residual adds fused into its GEMVs
 * (`fusedDecoderLayer`): self-attention and a gated MLP on the integer-dot GEMV, without Gemma's post norms
 * or a residual scale.
 */
export function layerFuses(ctx: GpuContext, r: DecoderLayerRun, w: DecoderLayerWeights): boolean {
  if (w.postAttnNorm || w.postMlpNorm || r.attnResidualScale !== undefined) return false;
  if (isMla(w.attn) ? !mlaFuses(ctx, r.mla!.dims, w.attn) : !gemvFuses(ctx, w.attn.qkv, true) || !gemvFuses(ctx, w.attn.o, false)) return false;
  if (isMoe(w.mlp)) return w.mlp.router.shape[1]! % 4 === 0;
  return gemvFuses(ctx, w.mlp.gateUp, true) && gemvFuses(ctx, w.mlp.down, false);
}

/**
 * One decode token through a layer (`layerFuses`) on its residual stream h [1, H] alone: the q|k|v GEMV reads
 * inputNorm(h), the output projection adds to h, the gate|up GEMV reads mlpNorm(h), the down projection adds to h.
 * Five dependent dispatches besides attention's (RoPE with the cache append, attention, its merge). A MoE
 * layer's router reads mlpNorm(h) and writes it to x [1, H] (scratch) for the experts, which add to h. MLA
 * (`mlaFuses`): its fused x projection reads inputNorm(h), its output projection adds to h.
 */
export function fusedDecoderLayer(
  ctx: GpuContext,
  r: DecoderLayerRun,
  w: DecoderLayerWeights,
  kv: LayerKv,
  rope: { invFreq: Tensor; attentionFactor: number },
  step: Step,
  h: Tensor,
  x: Tensor,
): void {
  const norm = (weight: Tensor) => ({ h, norm: { weight, eps: r.eps, weightOffset: r.normWeightOffset } });
  if (isMla(w.attn)) mlaAttention(ctx, r.mla!.dims, w.attn, kv.k, rope.invFreq, rope.attentionFactor, r.mla!.scratch, step, h, h, norm(w.inputNorm));
  else selfAttention(ctx, r.dims, w.attn, kv, rope.invFreq, rope.attentionFactor, r.attnScratch, step, h, h, undefined, norm(w.inputNorm));
  if (isMoe(w.mlp)) moeBlock(ctx, r.moe!.settings, w.mlp, r.moe!.scratch, x, h, norm(w.mlpNorm));
  else fusedGatedMlp(ctx, w.mlp, r.activation, r.mlpScratch, norm(w.mlpNorm));
}
