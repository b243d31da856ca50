import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { POSITION } from '../gpu/capture.js';
import { params } from '../gpu/params.js';
import { numel, type Tensor } from '../gpu/tensor.js';
import { ioPlan } from './binding.js';
import { strideGrid } from './elementwise.js';
import type { RopeOptions } from './rope.js';

/**
 * RoPE on a step's queries and keys and the append of its keys and values to the KV cache, in one dispatch
 * (shaders/ropeKv.wgsl): q [T, nH, hd] is rotated in place; k [T, nKv, hd] rotated goes to kCache
 * [capacity, nKv, hd] and v [T, nKv, hdV] to vCache [capacity, nKv, hdV], token t at slot
 * (startPos + t) % capacity; k is left unrotated. The same as `rope` on q and on k, then `writeKv`.
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
  // q is written in place; k and v may share its buffer (one fused projection), so they are bound for writing too.
  const plan = ioPlan('ropeWriteKv', [q, k, v], undefined);
  const qItems = T * nH * half;
  const kItems = T * nKv * hd;
  const vItems = T * nKv * hdV;
  ctx.dispatch(
    {
      shader: 'ropeKv',
      defines: { INTERLEAVED: o.layout === 'interleaved', K_ACCESS: plan.access[1]!, V_ACCESS: plan.access[2]! },
      layout: ['uniform', 'storage', plan.kinds[1]!, plan.kinds[2]!, 'storage', 'storage', 'read', 'read'],
    },
    [q, k, v, kCache, vCache, positions, invFreq],
    strideGrid(qItems + kItems + vItems),
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
      .u32(vItems),
  );
}
