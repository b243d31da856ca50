import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';
import { headRows } from './headMatmul.js';

const check = (cond: boolean, msg: string) => {
  if (!cond) throw new InvalidArgumentError(msg);
};

/**
 * Writes T tokens' latents into an MLA cache: cache[pos % capacity] = [rmsnorm(c) · normW, rope(k_pe, pos)]
 * from ckv [T, R + P] (the kv_a_proj_with_mqa output). Interleaved RoPE (pairs 2i, 2i + 1).
 */
export function mlaLatent(
  ctx: GpuContext,
  ckv: Tensor,
  normW: Tensor,
  positions: Tensor,
  invFreq: Tensor,
  cache: Tensor,
  o: { eps: number; attentionFactor?: number },
): void {
  const [T, D] = ckv.shape as [number, number];
  const R = normW.shape[0]!;
  const P = D - R;
  const capacity = cache.shape[0]!;
  check(ckv.dtype === 'f32' && cache.dtype === 'f32', 'mlaLatent: ckv and cache must be f32');
  check(
    P > 0 && P % 2 === 0 && invFreq.shape[0] === P / 2,
    `mlaLatent: rope part ${P} of [${ckv.shape}] needs ${P / 2} inverse frequencies, got [${invFreq.shape}]`,
  );
  check(cache.shape.at(-1) === D, `mlaLatent: cache rows of [${cache.shape}] must hold ${D} values`);
  check(positions.shape[0] === T, `mlaLatent: ${T} tokens but ${positions.shape[0]} positions`);
  ctx.dispatch(
    { shader: 'mlaLatent', layout: ['uniform', 'read', 'read', 'read', 'read', 'storage'] },
    [ckv, normW, positions, invFreq, cache],
    [T],
    params()
      .u32(T)
      .u32(R)
      .u32(P)
      .u32(capacity)
      .f32(o.eps)
      .f32(o.attentionFactor ?? 1),
  );
}

/** q_full [T, nH, R + P] = [qLat (R), rope(q[.., nope:], pos) (P)] per head, from q [T, nH, nope + P]. */
export function mlaQuery(
  ctx: GpuContext,
  q: Tensor,
  qLat: Tensor,
  positions: Tensor,
  invFreq: Tensor,
  qFull: Tensor,
  o: { attentionFactor?: number } = {},
): void {
  const [T, nH, R] = qLat.shape as [number, number, number];
  const P = invFreq.shape[0]! * 2;
  const nope = q.shape[2]! - P;
  check(q.shape[0] === T && q.shape[1] === nH && nope >= 0, `mlaQuery: q [${q.shape}] does not match qLat [${qLat.shape}] and rope dim ${P}`);
  check(qFull.shape[0] === T && qFull.shape[1] === nH && qFull.shape[2] === R + P, `mlaQuery: qFull must be [${T}, ${nH}, ${R + P}], got [${qFull.shape}]`);
  ctx.dispatch(
    { shader: 'mlaQuery', layout: ['uniform', 'read', 'read', 'read', 'read', 'storage'] },
    [q, qLat, positions, invFreq, qFull],
    [Math.ceil((T * nH * (R + P)) / 256)],
    params()
      .u32(T)
      .u32(nH)
      .u32(R)
      .u32(P)
      .u32(nope)
      .f32(o.attentionFactor ?? 1),
  );
}

/**
 * The absorbed query of a few tokens (T <= 4) and their cache write in one dispatch: q_full [T, nH, R + P] =
 * [W_ukᵀ[h] · q[t, h, :nope] (R), rope(q[t, h, nope:], pos) (P)], from q [T, nH, nope + P] (the q
 * projection's output) and wUkT [nH, R, nope] (W_uk stored transposed, rows along nope); and the latents
 * of ckv [T, R + P] written into the cache as mlaLatent does. nope and P multiples of 4 (mlaQueryDecodeFits).
 */
export function mlaQueryDecode(
  ctx: GpuContext,
  q: Tensor,
  wUkT: Tensor,
  positions: Tensor,
  invFreq: Tensor,
  qFull: Tensor,
  latent: { ckv: Tensor; normW: Tensor; cache: Tensor; eps: number },
  o: { attentionFactor?: number } = {},
): void {
  const [T, nH, qd] = q.shape as [number, number, number];
  const [wh, R, nope] = wUkT.shape as [number, number, number];
  const P = invFreq.shape[0]! * 2;
  check(mlaQueryDecodeFits(T, nope, P), `mlaQueryDecode: T ${T} must be 1..4 and nope ${nope}, rope dim ${P} multiples of 4`);
  check(
    wh === nH && qd === nope + P && wUkT.dtype === 'f32',
    `mlaQueryDecode: wUkT [${wUkT.shape}] f32 and q [${q.shape}] must be [${nH}, R, nope] and [T, ${nH}, nope + ${P}]`,
  );
  check(
    qFull.shape[0] === T && qFull.shape[1] === nH && qFull.shape[2] === R + P,
    `mlaQueryDecode: qFull must be [${T}, ${nH}, ${R + P}], got [${qFull.shape}]`,
  );
  check(positions.shape[0] === T, `mlaQueryDecode: ${T} tokens but ${positions.shape[0]} positions`);
  check(q.dtype === 'f32' && qFull.dtype === 'f32', 'mlaQueryDecode: q and qFull must be f32');
  const { ckv, normW, cache } = latent;
  check(ckv.shape[0] === T && ckv.shape[1] === R + P && normW.shape[0] === R, `mlaQueryDecode: ckv [${ckv.shape}] and norm [${normW.shape}] for R ${R}`);
  check(cache.shape.at(-1) === R + P && cache.dtype === 'f32' && ckv.dtype === 'f32', `mlaQueryDecode: cache [${cache.shape}] must hold ${R + P} f32 per row`);
  headRows(
    ctx,
    q,
    wUkT,
    qFull,
    { T, H: nH, A: nope, xStride: nope + P, B: R, yStride: R + P },
    { positions, invFreq, attentionFactor: o.attentionFactor ?? 1, ckv, normW, cache, eps: latent.eps },
  );
}

/** Whether mlaQueryDecode takes a query of T tokens with nope no-rope and P rope dims per head. */
export const mlaQueryDecodeFits = (T: number, nope: number, P: number): boolean => T >= 1 && T <= 4 && nope % 4 === 0 && P % 4 === 0;

/** MLA sizes of the naive prefill's expansion kernels (shaders/mlaExpand.wgsl). */
export interface MlaExpandDims {
  readonly numHeads: number;
  readonly kvLoraRank: number;
  readonly nopeDim: number;
  readonly ropeDim: number;
  readonly vDim: number;
}

const expandParams = (d: MlaExpandDims, S: number, T: number, attentionFactor: number) =>
  params().u32(S).u32(d.kvLoraRank).u32(d.ropeDim).u32(d.numHeads).u32(d.nopeDim).u32(d.vDim).u32(T).f32(attentionFactor);

/** c [S, R] = the latents (first R values) of cache rows 0 .. S - 1, cache [capacity, 1, R + P]. */
export function mlaLatents(ctx: GpuContext, cache: Tensor, c: Tensor, d: MlaExpandDims): void {
  const [S, R] = c.shape as [number, number];
  check(R === d.kvLoraRank && cache.shape.at(-1) === R + d.ropeDim && S <= cache.shape[0]!, `mlaLatents: c [${c.shape}] from cache [${cache.shape}]`);
  ctx.dispatch(
    { shader: 'mlaExpand', entry: 'latents', defines: { LATENTS: true }, layout: ['uniform', 'read', 'storage'] },
    [cache, c],
    [Math.ceil((S * R) / 256)],
    expandParams(d, S, 0, 1),
  );
}

/**
 * Per-head keys and values of positions 0 .. S - 1 from kv [S, nH, nope + v] (c · kv_b_projᵀ) and the cache's
 * roped k_pe: k [S, nH, nope + P] = [kv[.., :nope], k_pe], v [S, nH, v] = kv[.., nope:].
 */
export function mlaKeys(ctx: GpuContext, cache: Tensor, kv: Tensor, k: Tensor, v: Tensor, d: MlaExpandDims): void {
  const S = kv.shape[0]!;
  const { numHeads: nH, nopeDim: nope, ropeDim: P, vDim } = d;
  check(kv.shape[1] === nH && kv.shape[2] === nope + vDim, `mlaKeys: kv [${kv.shape}] must be [S, ${nH}, ${nope + vDim}]`);
  check(k.shape[0] === S && k.shape[1] === nH && k.shape[2] === nope + P, `mlaKeys: k [${k.shape}] must be [${S}, ${nH}, ${nope + P}]`);
  check(v.shape[0] === S && v.shape[1] === nH && v.shape[2] === vDim, `mlaKeys: v [${v.shape}] must be [${S}, ${nH}, ${vDim}]`);
  check(cache.shape.at(-1) === d.kvLoraRank + P && S <= cache.shape[0]!, `mlaKeys: cache [${cache.shape}] for ${S} positions`);
  ctx.dispatch(
    { shader: 'mlaExpand', entry: 'keys', defines: { KEYS: true }, layout: ['uniform', 'read', 'read', 'storage', 'storage'] },
    [cache, kv, k, v],
    [Math.ceil((S * nH * Math.max(nope + P, vDim)) / 256)],
    expandParams(d, S, 0, 1),
  );
}

/** q [T, nH, nope + P] in place: interleaved RoPE of the last P values of every head at the token's position. */
export function mlaRopeQuery(ctx: GpuContext, q: Tensor, positions: Tensor, invFreq: Tensor, d: MlaExpandDims, attentionFactor = 1): void {
  const [T, nH, qd] = q.shape as [number, number, number];
  check(nH === d.numHeads && qd === d.nopeDim + d.ropeDim && invFreq.shape[0]! * 2 === d.ropeDim, `mlaRopeQuery: q [${q.shape}] and rope dim ${d.ropeDim}`);
  check(positions.shape[0] === T, `mlaRopeQuery: ${T} tokens but ${positions.shape[0]} positions`);
  ctx.dispatch(
    { shader: 'mlaExpand', entry: 'ropeQ', defines: { ROPE_Q: true }, layout: ['uniform', 'read', 'read', 'storage'] },
    [positions, invFreq, q],
    [Math.ceil((T * nH * (d.ropeDim / 2)) / 256)],
    expandParams(d, 0, T, attentionFactor),
  );
}
