import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';
import type { DecodeParts } from './decodeParts.js';

/** Token counts up to which the matrix-vector entries (rows / rowDot / colDot) run instead of the tiled one. */
const SMALL_T = 4;

/**
 * y[t, h, :] = W[h] · x[t, h, :A]: x [T, H, Ax] (Ax >= A: the first A of each row are read), W [H, B, A] (or
 * [H, A, B] with transposeW, giving W[h]ᵀ · x[t, h, :A]), y [T, H, B], all f32. DeepSeek MLA's absorbed
 * projections. With `merge` (one token): x is the MLA decode attention's unmerged chunks (AttentionOptions.mergeLater),
 * each workgroup merging its head's row before the products.
 */
export function headMatmul(ctx: GpuContext, x: Tensor, w: Tensor, y: Tensor, transposeW = false, merge?: DecodeParts): void {
  const [T, H, xS] = x.shape as [number, number, number];
  const B = y.shape[2]!;
  const [wh, w1, w2] = w.shape as [number, number, number];
  const A = transposeW ? w1 : w2;
  if (x.dtype !== 'f32' || w.dtype !== 'f32' || y.dtype !== 'f32') {
    throw new InvalidArgumentError(`headMatmul: x, w and y must be f32, got ${x.dtype}, ${w.dtype}, ${y.dtype}`);
  }
  if (
    x.shape.length !== 3 ||
    w.shape.length !== 3 ||
    y.shape.length !== 3 ||
    wh !== H ||
    (transposeW ? w2 !== B : w1 !== B) ||
    xS < A ||
    y.shape[0] !== T ||
    y.shape[1] !== H
  ) {
    throw new InvalidArgumentError(`headMatmul: x [${x.shape}], w [${w.shape}], y [${y.shape}] (transposeW ${transposeW}) do not fit`);
  }
  const layout = ['uniform', 'read', 'read', 'storage'] as const;
  if (merge) {
    if (T !== 1 || transposeW || merge.mlStride !== 4 || merge.nH !== H || merge.Dv !== A || A % 4 !== 0 || A > 4 * MERGE_MAX_VEC4S)
      throw new InvalidArgumentError(`headMatmul: the merge of ${merge.nH} heads x ${merge.Dv} does not fit x [${x.shape}] and w [${w.shape}]`);
    headRows(ctx, x, w, y, { T, H, A, xStride: A, B, yStride: B }, undefined, merge);
    return;
  }
  const p = params().u32(T).u32(H).u32(A).u32(xS).u32(B);
  if (T <= SMALL_T && !transposeW && A % 4 === 0 && xS % 4 === 0) {
    headRows(ctx, x, w, y, { T, H, A, xStride: xS, B, yStride: B });
    return;
  }
  if (T <= SMALL_T) {
    if (transposeW) ctx.dispatch({ shader: 'headMatmul', entry: 'colDot', layout }, [x, w, y], [Math.ceil(B / 64), H], p);
    else ctx.dispatch({ shader: 'headMatmul', entry: 'rowDot', layout }, [x, w, y], [Math.ceil(B / 8), H], p);
    return;
  }
  ctx.dispatch({ shader: 'headMatmul', entry: 'tiled', defines: { TRANSPOSE: transposeW }, layout }, [x, w, y], [Math.ceil(B / 64), Math.ceil(T / 64), H], p);
}

/** The longest head row (vec4s) the merge keeps in workgroup memory (shaders/headMatmulRows.wgsl MERGE). */
const MERGE_MAX_VEC4S = 256;

/** Lanes that read one row of A floats as vec4 in shaders/headMatmulRows.wgsl: about four vec4s each, 4 to 32. */
export function headRowLanes(A: number): number {
  let lanes = 4;
  while (lanes < 32 && lanes * 4 * 4 < A) lanes *= 2;
  return lanes;
}

/**
 * The vec4 row-dot entry (shaders/headMatmulRows.wgsl) for T <= 4 and A % 4 == 0: x rows of `xStride` floats
 * (a multiple of 4, the first A read), y rows of `yStride`. With `rope` (DeepSeek's absorbed decode query),
 * one more workgroup per head writes the rope part of q_full after the B latent values (y [T, H, B + P]) from
 * the P values after the first A of each x row, and one more row of workgroups the tokens' latents (ckv
 * [T, B + P]) into the cache (mlaLatent's work). Shapes are checked by the callers.
 */
export function headRows(
  ctx: GpuContext,
  x: Tensor,
  w: Tensor,
  y: Tensor,
  d: { T: number; H: number; A: number; xStride: number; B: number; yStride: number },
  rope?: { positions: Tensor; invFreq: Tensor; attentionFactor: number; ckv: Tensor; normW: Tensor; cache: Tensor; eps: number },
  merge?: DecodeParts,
): void {
  const LPR = headRowLanes(d.A);
  const rowGroups = Math.ceil(d.B / (256 / LPR));
  const P = rope ? rope.invFreq.shape[0]! * 2 : 0;
  const p = params()
    .u32(d.T)
    .u32(d.H)
    .u32(d.A / 4)
    .u32(d.B)
    .u32(d.xStride / 4)
    .u32(d.yStride)
    .u32(rowGroups)
    .u32(P)
    .f32(rope?.attentionFactor ?? 1)
    .u32(rope?.cache.shape[0] ?? 0)
    .f32(rope?.eps ?? 0);
  if (merge) {
    p.u32(merge.nChunks).u32(merge.mlOffset / 4);
    ctx.dispatch(
      { shader: 'headMatmulRows', defines: { LPR, MERGE: true }, layout: ['uniform', 'read', 'read', 'storage'] },
      [{ buffer: merge.buffer }, w, y],
      [rowGroups, d.H],
      p,
    );
    return;
  }
  if (!rope) {
    ctx.dispatch({ shader: 'headMatmulRows', defines: { LPR }, layout: ['uniform', 'read', 'read', 'storage'] }, [x, w, y], [rowGroups, d.H], p);
    return;
  }
  ctx.dispatch(
    { shader: 'headMatmulRows', defines: { LPR, MLA_Q: true }, layout: ['uniform', 'read', 'read', 'storage', 'read', 'read', 'read', 'read', 'storage'] },
    [x, w, y, rope.positions, rope.invFreq, rope.ckv, rope.normW, rope.cache],
    [rowGroups + 1, d.H + 1],
    p,
  );
}
