import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { attention, headMatmul } from '../kernels/attention.js';
import { gemvFuses, matmul, matmulFused } from '../kernels/matmul.js';
import { mlaKeys, mlaLatent, mlaLatents, mlaQuery, mlaQueryDecode, mlaQueryDecodeFits, mlaRopeQuery } from '../kernels/mla.js';
import { rmsNorm } from '../kernels/norm.js';
import type { FusedResidual, Step } from './attention.js';

/**
 * Multi-head latent attention weights (DeepSeek-V2/V3), split at load for the absorbed form:
 * kv_b_proj [nH * (nope + v), R] becomes W_uk, stored transposed as wUkT [nH, R, nope], and wUv [nH, v, R];
 * q keeps its rows as stored, [no-rope (nope), rope (P)] per head.
 */
export interface MlaWeights {
  readonly xProj?: Tensor; // [qLora or nH * (nope + P), H] then [R + P, H]: the projections of x fused by rows (where stored alike)
  readonly qA?: Tensor; // [qLora, H] (q LoRA): a view of xProj's first rows where fused
  readonly qANorm?: Tensor; // [qLora] f32
  readonly q: Tensor; // [nH * (nope + P), qLora or H] (without LoRA a view of xProj's first rows)
  readonly kvA: Tensor; // [R + P, H]: kv_a_proj_with_mqa, a view of xProj's last rows where fused
  readonly kvANorm: Tensor; // [R] f32
  readonly wUkT: Tensor; // [nH, R, nope] f32: W_uk transposed
  readonly wUv: Tensor; // [nH, v, R] f32
  readonly kvB: Tensor; // [nH * (nope + v), R]: kv_b_proj as stored (the naive prefill's decompression)
  readonly o: Tensor; // [H, nH * v]
}

export interface MlaDims {
  readonly numHeads: number;
  readonly qLoraRank?: number;
  readonly kvLoraRank: number;
  readonly nopeDim: number;
  readonly ropeDim: number;
  readonly vDim: number;
  /** Softmax scale: qk_head_dim^-1/2 (times YaRN's mscale^2). */
  readonly scale: number;
  readonly eps: number;
}

export const isMla = (w: object): w is MlaWeights => 'wUkT' in w;

/** Bytes per token per layer of the latent cache, and of a plain cache of the same heads (f32). */
export function mlaCacheBytes(d: MlaDims): { latent: number; gqa: number } {
  return { latent: (d.kvLoraRank + d.ropeDim) * 4, gqa: d.numHeads * (d.nopeDim + d.ropeDim + d.vDim) * 4 };
}

export class MlaScratch {
  readonly qa: Tensor; // [C, qLora]
  readonly q: Tensor; // [C, nH, nope + P]
  readonly qLat: Tensor; // [C, nH, R]
  readonly qFull: Tensor; // [C, nH, R + P]
  readonly ckv: Tensor; // [C, R + P]
  readonly oLat: Tensor; // [C, nH, R]
  readonly o: Tensor; // [C, nH, v]
  readonly xOut: Tensor; // [1, qLora or nH * (nope + P), then R + P]: a decode token's fused x projections
  constructor(
    ctx: GpuContext,
    d: MlaDims,
    readonly maxChunk: number,
  ) {
    const C = maxChunk;
    const { numHeads: nH, kvLoraRank: R, ropeDim: P } = d;
    this.qa = ctx.createTensor([C, d.qLoraRank ?? 1], 'f32', 'mla.qa');
    this.q = ctx.createTensor([C, nH, d.nopeDim + P], 'f32', 'mla.q');
    this.qLat = ctx.createTensor([C, nH, R], 'f32', 'mla.qLat');
    this.qFull = ctx.createTensor([C, nH, R + P], 'f32', 'mla.qFull');
    this.ckv = ctx.createTensor([C, R + P], 'f32', 'mla.ckv');
    this.oLat = ctx.createTensor([C, nH, R], 'f32', 'mla.oLat');
    this.o = ctx.createTensor([C, nH, d.vDim], 'f32', 'mla.o');
    this.xOut = ctx.createTensor([1, (d.qLoraRank ?? nH * (d.nopeDim + P)) + R + P], 'f32', 'mla.xOut');
  }
  /** The naive prefill's buffers for positions 0 .. S - 1 (c, kv, per-head k and v), grown in steps of 512. */
  private expansion: { S: number; c: Tensor; kv: Tensor; k: Tensor; v: Tensor } | undefined;
  expanded(ctx: GpuContext, d: MlaDims, S: number): { c: Tensor; kv: Tensor; k: Tensor; v: Tensor } {
    const { numHeads: nH, kvLoraRank: R, nopeDim: nope, ropeDim: P, vDim } = d;
    let e = this.expansion;
    if (!e || e.S < S) {
      if (e) for (const t of [e.c, e.kv, e.k, e.v]) ctx.retireBuffer(t.buffer);
      const n = Math.ceil(S / 512) * 512;
      e = {
        S: n,
        c: ctx.createTensor([n, R], 'f32', 'mla.c'),
        kv: ctx.createTensor([n, nH, nope + vDim], 'f32', 'mla.kv'),
        k: ctx.createTensor([n, nH, nope + P], 'f32', 'mla.k'),
        v: ctx.createTensor([n, nH, vDim], 'f32', 'mla.v'),
      };
      this.expansion = e;
    }
    return {
      c: ctx.view(e.c, [S, R]),
      kv: ctx.view(e.kv, [S, nH, nope + vDim]),
      k: ctx.view(e.k, [S, nH, nope + P]),
      v: ctx.view(e.v, [S, nH, vDim]),
    };
  }
  tensors(): Tensor[] {
    const e = this.expansion;
    return [this.qa, this.q, this.qLat, this.qFull, this.ckv, this.oLat, this.o, this.xOut, ...(e ? [e.c, e.kv, e.k, e.v] : [])];
  }
}

/**
 * Which form a prefill chunk of MLA runs: 'absorbed' (attention over the latent rows, head dim R + P) or
 * 'naive' (keys and values of every position decompressed with kv_b_proj, attention with head dims
 * nope + P and v): naive for chunks of at least NAIVE_MIN_T tokens over at most NAIVE_MAX_S positions
 * (measured faster on DeepSeek-V2-Lite's shape: bench/README.md, MLA), or as ctx.kernelOverrides.mlaPrefill
 * says; decode (T <= 4) is always absorbed.
 */
const NAIVE_MIN_T = 64;
const NAIVE_MAX_S = 4096;

function naiveForm(ctx: GpuContext, T: number, S: number, capacity: number): boolean {
  if (T <= 4 || S > capacity) return false;
  const f = ctx.kernelOverrides?.mlaPrefill?.form ?? 'auto';
  return f === 'naive' || (f === 'auto' && T >= NAIVE_MIN_T && S <= NAIVE_MAX_S);
}

/**
 * MLA with absorbed projections: the cache holds one latent row per token, [rmsnorm(c) (R), rope(k_pe) (P)];
 * queries are mapped into the latent space (q_nope · W_uk), attention runs over the latent rows (values
 * are their first R entries), and the result is mapped out through W_uv and o_proj. x [T, H] → out [T, H].
 */
export function mlaAttention(
  ctx: GpuContext,
  d: MlaDims,
  w: MlaWeights,
  cache: Tensor, // [capacity, 1, R + P] f32
  invFreq: Tensor,
  attentionFactor: number,
  s: MlaScratch,
  step: Step,
  x: Tensor,
  out: Tensor,
  residual?: FusedResidual,
): void {
  const { T } = step;
  const { numHeads: nH, kvLoraRank: R, ropeDim: P } = d;
  const N1 = d.qLoraRank ?? nH * (d.nopeDim + P); // rows of xProj before kv_a's
  // A decode token: one GEMV for both projections of x, read through views of its output (where the second
  // starts at a binding offset the adapter allows).
  const fused = !!w.xProj && T === 1 && (N1 * 4) % ctx.device.limits.minStorageBufferOffsetAlignment === 0;
  if (residual && !(fused && mlaFuses(ctx, d, w))) throw new InvalidArgumentError('mlaAttention: the fused residual needs mlaFuses and one token');
  if (residual) matmulFused(ctx, residual.h, w.xProj!, s.xOut, undefined, { norm: residual.norm });
  else if (fused) matmul(ctx, x, w.xProj!, s.xOut);
  let qIn = x;
  let q = ctx.view(s.q, [T, nH, d.nopeDim + P]);
  if (w.qA && w.qANorm) {
    qIn = fused ? ctx.view(s.xOut, [T, N1]) : ctx.view(s.qa, [T, N1]);
    if (!fused) matmul(ctx, x, w.qA, qIn);
    rmsNorm(ctx, qIn, w.qANorm, qIn, d.eps, 0);
    matmul(ctx, qIn, w.q, ctx.view(q, [T, nH * (d.nopeDim + P)]));
  } else if (fused) {
    q = ctx.view(s.xOut, [T, nH, d.nopeDim + P]);
  } else {
    matmul(ctx, qIn, w.q, ctx.view(q, [T, nH * (d.nopeDim + P)]));
  }
  const ckv = fused ? ctx.view(s.xOut, [T, R + P], N1 * 4) : ctx.view(s.ckv, [T, R + P]);
  if (!fused) matmul(ctx, x, w.kvA, ckv);
  const o = ctx.view(s.o, [T, nH, d.vDim]);
  const S = step.start + T;
  const decodeQuery = mlaQueryDecodeFits(T, d.nopeDim, P);
  if (!decodeQuery) mlaLatent(ctx, ckv, w.kvANorm, step.positions, invFreq, cache, { eps: d.eps, attentionFactor });
  if (naiveForm(ctx, T, S, cache.shape[0]!)) {
    const e = s.expanded(ctx, d, S);
    mlaLatents(ctx, cache, e.c, d);
    matmul(ctx, e.c, w.kvB, ctx.view(e.kv, [S, nH * (d.nopeDim + d.vDim)]));
    mlaKeys(ctx, cache, e.kv, e.k, e.v, d);
    mlaRopeQuery(ctx, q, step.positions, invFreq, d, attentionFactor);
    attention(ctx, q, e.k, e.v, o, { startPos: step.start, scale: d.scale });
  } else {
    const qFull = ctx.view(s.qFull, [T, nH, R + P]);
    if (decodeQuery) {
      // The query and the cache write of the tokens' latents in one dispatch.
      mlaQueryDecode(ctx, q, w.wUkT, step.positions, invFreq, qFull, { ckv, normW: w.kvANorm, cache, eps: d.eps }, { attentionFactor });
    } else {
      const qLat = ctx.view(s.qLat, [T, nH, R]);
      headMatmul(ctx, q, w.wUkT, qLat);
      mlaQuery(ctx, q, qLat, step.positions, invFreq, qFull, { attentionFactor });
    }
    const oLat = ctx.view(s.oLat, [T, nH, R]);
    // One token: W_uv merges the attention's chunks itself where there are few (one dispatch less).
    const parts = attention(ctx, qFull, cache, cache, oLat, { startPos: step.start, scale: d.scale, vFromK: true, mergeLater: T === 1 });
    headMatmul(ctx, oLat, w.wUv, o, false, parts);
  }
  if (residual) matmulFused(ctx, ctx.view(o, [T, nH * d.vDim]), w.o, residual.h, undefined, { accumulate: true });
  else matmul(ctx, ctx.view(o, [T, nH * d.vDim]), w.o, out);
}

/**
 * Whether a decode token's MLA can take its residual stream h itself (`mlaAttention`'s `residual`): the fused
 * x projection reads norm(h) and the output projection adds to h, both on the integer-dot GEMV.
 */
export function mlaFuses(ctx: GpuContext, d: MlaDims, w: MlaWeights): boolean {
  const N1 = d.qLoraRank ?? d.numHeads * (d.nopeDim + d.ropeDim);
  if (!w.xProj || (N1 * 4) % ctx.device.limits.minStorageBufferOffsetAlignment !== 0) return false;
  return gemvFuses(ctx, w.xProj, true) && gemvFuses(ctx, w.o, false);
}
