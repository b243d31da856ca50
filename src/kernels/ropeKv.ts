import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { POSITION } from '../gpu/capture.js';
import { params } from '../gpu/params.js';
import { numel, type Tensor } from '../gpu/tensor.js';
import { ioPlan } from './binding.js';
import { strideGrid } from './elementwise.js';
import type { RopeOptions } from './rope.js';

/**
 * RMSNorm of q and k before the rotation: one weight tensor holding q's [qLen] at 0 and k's [kLen] at kOffset
 * floats. qLen is the head dim (one norm per head: qwen3, gemma3) or the whole projection (OLMoE); kLen likewise.
 */
export interface QkNorm {
  readonly weight: Tensor;
  readonly qLen: number;
  readonly kLen: number;
  readonly kOffset: number;
  readonly eps: number;
  readonly weightOffset: number;
}

/** Longest norm segment staged in workgroup memory. */
export const QK_NORM_MAX = 4096;

/**
 * RoPE on a step's queries and keys and the append of its keys and values to the KV cache, in one dispatch
 * (shaders/ropeKv.wgsl): q [T, nH, hd] is rotated in place; k [T, nKv, hd] rotated goes to kCache
 * [capacity, nKv, hd] and v [T, nKv, hdV] to vCache [capacity, nKv, hdV], token t at slot
 * (startPos + t) % capacity; k is left unrotated. The same as `rope` on q and on k, then `writeKv`; with `norm`,
 * the same as `rmsNorm` of q and of k first (k is still left as it is).
 */
export function ropeWriteKv(
  ctx: GpuContext,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  positions: Tensor,
  invFreq: Tensor,
  o: RopeOptions,
  kCache: Tensor,
  vCache: Tensor,
  startPos: number,
  norm?: QkNorm,
): void {
  const fail = (msg: string) => {
    throw new InvalidArgumentError(`ropeWriteKv: ${msg}`);
  };
  for (const t of [q, k, v, kCache, vCache]) if (t.dtype !== 'f32' || t.shape.length !== 3) fail(`tensors must be 3-d f32, got [${t.shape}] ${t.dtype}`);
  const [T, nH, hd] = q.shape as [number, number, number];
  const [capacity, nKv] = kCache.shape as [number, number];
  const hdV = vCache.shape[2]!;
  if (k.shape[0] !== T || k.shape[1] !== nKv || k.shape[2] !== hd) fail(`k [${k.shape}] does not match q [${q.shape}] and the cache [${kCache.shape}]`);
  if (kCache.shape[2] !== hd) fail(`the key cache [${kCache.shape}] does not match k [${k.shape}]`);
  if (v.shape[0] !== T || v.shape[1] !== nKv || v.shape[2] !== hdV || vCache.shape[0] !== capacity || vCache.shape[1] !== nKv) {
    fail(`v [${v.shape}] does not match the value cache [${vCache.shape}]`);
  }
  if (T > capacity) fail(`${T} tokens exceed the cache capacity ${capacity}`);
  const offset = o.offset ?? 0;
  if (!(o.rotaryDim > 0 && o.rotaryDim % 2 === 0 && offset >= 0 && offset + o.rotaryDim <= hd))
    fail(`rotaryDim ${o.rotaryDim} (even) at offset ${offset} must fit in a head of ${hd}`);
  const half = o.rotaryDim / 2;
  if (positions.dtype !== 'u32' || numel(positions.shape) < T) fail(`positions must be [${T}] u32, got [${positions.shape}] ${positions.dtype}`);
  if (invFreq.dtype !== 'f32' || numel(invFreq.shape) !== half) fail(`invFreq must be [${half}] f32, got [${invFreq.shape}] ${invFreq.dtype}`);
  if (norm) {
    const { qLen, kLen, kOffset } = norm;
    if (!(qLen > 0 && (qLen === hd || qLen === nH * hd) && kLen > 0 && (kLen === hd || kLen === nKv * hd)))
      fail(`norm segments of ${qLen} and ${kLen} floats: a head (${hd}) or a whole projection (${nH * hd}, ${nKv * hd})`);
    if (Math.max(qLen, kLen) > QK_NORM_MAX) fail(`norm segments of at most ${QK_NORM_MAX} floats, got ${Math.max(qLen, kLen)}`);
    if (norm.weight.dtype !== 'f32' || numel(norm.weight.shape) < kOffset + kLen || kOffset < qLen)
      fail(`the norm weight [${norm.weight.shape}] must hold q's ${qLen} floats, then k's ${kLen} at ${kOffset}`);
  }
  // q is written in place; k and v may share its buffer (one fused projection), so they are bound for writing too.
  const plan = ioPlan('ropeWriteKv', [q, k, v], undefined);
  const qItems = T * nH * half;
  const kItems = T * nKv * hd;
  const vItems = T * nKv * hdV;
  const layout = ['uniform', 'storage', plan.kinds[1]!, plan.kinds[2]!, 'storage', 'storage', 'read', 'read'] as const;
  const defines = { INTERLEAVED: o.layout === 'interleaved', K_ACCESS: plan.access[1]!, V_ACCESS: plan.access[2]! };
  let grid: [number, number?] = strideGrid(qItems + kItems + vItems);
  if (norm) {
    const groups = (T * nH * hd) / norm.qLen + kItems / norm.kLen + Math.ceil(vItems / 256);
    const x = Math.min(groups, ctx.limits.maxComputeWorkgroupsPerDimension);
    grid = [x, Math.ceil(groups / x)];
  }
  ctx.dispatch(
    norm
      ? {
          shader: 'ropeKv',
          entry: 'normed',
          defines: { ...defines, NORMED: true, SEG_MAX: Math.max(norm.qLen, norm.kLen) },
          layout: [...layout, 'read'],
        }
      : { shader: 'ropeKv', defines, layout: [...layout] },
    norm ? [q, k, v, kCache, vCache, positions, invFreq, norm.weight] : [q, k, v, kCache, vCache, positions, invFreq],
    grid,
    params()
      .u32(T)
      .u32(nH)
      .u32(nKv)
      .u32(hd)
      .u32(hdV)
      .u32(half)
      .u32(offset)
      .f32(o.attentionFactor ?? 1)
      .u32(capacity)
      .u32(startPos, POSITION)
      .u32(qItems)
      .u32(kItems)
      .u32(vItems)
      .u32(norm?.qLen ?? 0)
      .u32(norm?.kLen ?? 0)
      .u32(norm?.kOffset ?? 0)
      .f32(norm?.eps ?? 0)
      .f32(norm?.weightOffset ?? 0),
  );
}
