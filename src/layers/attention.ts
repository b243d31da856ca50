import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { byteSizeOf, type Tensor } from '../gpu/tensor.js';
import { attention, ropeAttention } from '../kernels/attention.js';
import type { DecodeParts } from '../kernels/decodeParts.js';
import { gemvMerges, matmul, matmulFused } from '../kernels/matmul.js';
import { rmsNorm } from '../kernels/norm.js';
import { writeKv } from '../kernels/kvCache.js';
import { rope } from '../kernels/rope.js';
import { QK_NORM_MAX } from '../kernels/ropeKv.js';
import type { LayerKv } from './layerKv.js';

/** Rows of each q / k / v section of the fused weight: padded so that every section view is 256-byte aligned. */
export const QKV_ROW_ALIGN = 256;
export const alignRows = (n: number) => Math.ceil(n / QKV_ROW_ALIGN) * QKV_ROW_ALIGN;

export interface AttentionWeights {
  /** [rq + 2 rk, H]: q rows, then k rows, then v rows, each section padded with zero rows to alignRows(). */
  readonly qkv: Tensor;
  readonly qkvBias?: Tensor; // [rq + 2 rk] f32
  /** q's and k's RMSNorm weights (qwen3, gemma3: [headDim] each; OLMoE: the whole projection's) in one tensor. */
  readonly qkNorm?: { readonly weight: Tensor; readonly qLen: number; readonly kLen: number; readonly kOffset: number };
  readonly o: Tensor; // [H, nH * headDim]
  readonly oBias?: Tensor; // [H] f32
  /** gpt-oss: a learned logit per head in the softmax denominator. */
  readonly sinks?: Tensor; // [nH] f32
}

export interface AttentionDims {
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly rotaryDim: number;
  readonly ropeLayout: 'neox' | 'interleaved';
  readonly scale: number;
  readonly softcap?: number;
  readonly normEps: number;
  readonly normWeightOffset: number;
}

/** Per-step inputs shared by every layer. */
export interface Step {
  readonly T: number;
  readonly start: number;
  readonly positions: Tensor; // [T] u32
  /** M-RoPE: the step's positions in 3 rows (t, h, w) and the rotated pairs each row turns (mrope_section). */
  readonly mrope?: { readonly positions: Tensor; readonly sections: readonly [number, number, number] }; // [3, >= T] u32
}

/** Activation buffers of attention, allocated once for the longest chunk and reused by every layer. */
export class AttentionScratch {
  readonly q: Tensor; // [C, nH, hd]
  readonly k: Tensor; // [C, nKv, hd]
  readonly v: Tensor; // [C, nKv, hd]
  readonly qkv1: Tensor; // [1, rq + 2 rk]: the fused projection of one token (decode)
  readonly out: Tensor; // [C, nH, hd]
  constructor(
    ctx: GpuContext,
    d: AttentionDims,
    readonly maxChunk: number,
  ) {
    const { numHeads: nH, numKvHeads: nKv, headDim: hd } = d;
    this.q = ctx.createTensor([maxChunk, nH, hd], 'f32', 'attn.q');
    this.k = ctx.createTensor([maxChunk, nKv, hd], 'f32', 'attn.k');
    this.v = ctx.createTensor([maxChunk, nKv, hd], 'f32', 'attn.v');
    this.qkv1 = ctx.createTensor([1, alignRows(nH * hd) + 2 * alignRows(nKv * hd)], 'f32', 'attn.qkv1');
    this.out = ctx.createTensor([maxChunk, nH, hd], 'f32', 'attn.out');
  }
}

/** Row range of a fused weight (or of its bias) as a tensor: sections start on 256-byte boundaries. */
function rows(ctx: GpuContext, w: Tensor, from: number, n: number): Tensor {
  const cols = w.shape.length === 2 ? w.shape[1]! : 1;
  return ctx.view(w, w.shape.length === 2 ? [n, cols] : [n], byteSizeOf(w.dtype, from * cols));
}

/**
 * Self-attention of one layer: x [T, H] (normed) → out [T, H]. One fused q|k|v matmul for a decode token
 * (three row-range matmuls of the same weight for a chunk), optional per-head q/k norms, RoPE, append to
 * the layer's cache (one dispatch), attention over the cache, output projection.
 */
export function selfAttention(
  ctx: GpuContext,
  d: AttentionDims,
  w: AttentionWeights,
  kv: LayerKv,
  invFreq: Tensor,
  attentionFactor: number,
  s: AttentionScratch,
  step: Step,
  x: Tensor,
  out: Tensor,
  xPlanes?: Tensor,
  fused?: FusedResidual,
): void {
  const { T } = step;
  if (fused && T !== 1) throw new InvalidArgumentError(`selfAttention: the fused residual is for one token, got ${T}`);
  const { numHeads: nH, numKvHeads: nKv, headDim: hd } = d;
  const rq = alignRows(nH * hd);
  const rk = alignRows(nKv * hd);
  let q: Tensor, k: Tensor, v: Tensor;
  if (T === 1) {
    if (fused) matmulFused(ctx, fused.h, w.qkv, s.qkv1, w.qkvBias, { norm: fused.norm });
    else matmul(ctx, x, w.qkv, s.qkv1, w.qkvBias, xPlanes);
    q = ctx.view(s.qkv1, [1, nH, hd], 0);
    k = ctx.view(s.qkv1, [1, nKv, hd], rq * 4);
    v = ctx.view(s.qkv1, [1, nKv, hd], (rq + rk) * 4);
  } else {
    q = ctx.view(s.q, [T, nH, hd]);
    k = ctx.view(s.k, [T, nKv, hd]);
    v = ctx.view(s.v, [T, nKv, hd]);
    const b = w.qkvBias;
    matmul(ctx, x, rows(ctx, w.qkv, 0, nH * hd), ctx.view(q, [T, nH * hd]), b && rows(ctx, b, 0, nH * hd));
    matmul(ctx, x, rows(ctx, w.qkv, rq, nKv * hd), ctx.view(k, [T, nKv * hd]), b && rows(ctx, b, rq, nKv * hd));
    matmul(ctx, x, rows(ctx, w.qkv, rq + rk, nKv * hd), ctx.view(v, [T, nKv * hd]), b && rows(ctx, b, rq + rk, nKv * hd));
  }
  const ropeOpts = { layout: d.ropeLayout, rotaryDim: d.rotaryDim, attentionFactor };
  let qkNorm = w.qkNorm && { ...w.qkNorm, eps: d.normEps, weightOffset: d.normWeightOffset };
  if (qkNorm && (Math.max(qkNorm.qLen, qkNorm.kLen) > QK_NORM_MAX || step.mrope)) {
    // Segments too long for ropeKv's workgroup memory (or M-RoPE, which ropeKv does not do): the norms on their own first.
    const { weight, qLen, kLen, kOffset } = qkNorm;
    const rowsOf = (t: Tensor, len: number) => ctx.view(t, [(T * t.shape[1]! * hd) / len, len]);
    rmsNorm(ctx, rowsOf(q, qLen), ctx.view(weight, [qLen]), rowsOf(q, qLen), d.normEps, d.normWeightOffset);
    rmsNorm(ctx, rowsOf(k, kLen), ctx.view(weight, [kLen], kOffset * 4), rowsOf(k, kLen), d.normEps, d.normWeightOffset);
    qkNorm = undefined;
  }
  const o = ctx.view(s.out, [T, nH, hd]);
  // A fused decode token's output projection merges the attention's chunks itself where it can.
  const mergeLater = !!fused && gemvMerges(ctx, w.o);
  const attn = { startPos: step.start, scale: d.scale, window: kv.window, softcap: d.softcap, sinks: w.sinks, mergeLater };
  let parts: DecodeParts | undefined;
  if (step.mrope) {
    // M-RoPE (Qwen2-VL's prompt with images): q and k turned by their 3 position rows, then the plain cache append.
    const mo = { ...ropeOpts, mropeSections: step.mrope.sections };
    rope(ctx, q, step.mrope.positions, invFreq, mo);
    rope(ctx, k, step.mrope.positions, invFreq, mo);
    writeKv(ctx, k, v, kv.k, kv.v, step.start);
    parts = attention(ctx, q, kv.k, kv.v, o, attn);
  } else {
    // RoPE, the cache append and the attention: one dispatch for a decode token where the kernel can.
    parts = ropeAttention(ctx, q, k, v, { positions: step.positions, invFreq, options: ropeOpts, norm: qkNorm }, kv.k, kv.v, o, attn);
  }
  if (fused) matmulFused(ctx, ctx.view(o, [T, nH * hd]), w.o, fused.h, w.oBias, { accumulate: true, merge: parts });
  else matmul(ctx, ctx.view(o, [T, nH * hd]), w.o, out, w.oBias);
}

/**
 * A decode token's residual stream h [1, H] where the norms and residual adds around a block are fused into its
 * GEMVs (src/kernels/matmul.ts `matmulFused`): the first GEMV reads norm(h), the last adds its output to h.
 */
export interface FusedResidual {
  readonly h: Tensor;
  readonly norm: { readonly weight: Tensor; readonly eps: number; readonly weightOffset: number };
}
