import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';

export { headMatmul } from './headMatmul.js';

export interface AttentionOptions {
  /** Position of query row 0; the cache holds keys of positions 0 .. startPos + T - 1. */
  readonly startPos: number;
  readonly scale: number;
  /** Sliding window: the query at p sees keys p - window + 1 .. p. 0 or undefined: full causal. */
  readonly window?: number;
  /** [nHeads] f32: gpt-oss's sinks, an extra logit per head in the softmax denominator only. */
  readonly sinks?: Tensor;
  /** cap * tanh(s / cap) on the scaled scores. */
  readonly softcap?: number;
  /** MLA: V is the first headDimV dims of each K row (pass the same cache as vCache). */
  readonly vFromK?: boolean;
}

/**
 * out[t, h] = softmax over keys of (q[t, h] · k) · v, causal, over a KV cache where position j is in slot
 * j % capacity. q [T, nH, hd], kCache [capacity, nKv, hd], vCache [capacity, nKv, hdV], out [T, nH, hdV].
 */
export function attention(ctx: GpuContext, q: Tensor, kCache: Tensor, vCache: Tensor, out: Tensor, o: AttentionOptions): void {
  const [T, nH, hd] = q.shape as [number, number, number];
  const [capacity, nKv, kd] = kCache.shape as [number, number, number];
  const hdV = out.shape[2]!;
  if (kd !== hd) throw new InvalidArgumentError(`attention: q head dim ${hd} != cache head dim ${kd}`);
  if (nH % nKv !== 0) throw new InvalidArgumentError(`attention: ${nH} query heads are not a multiple of ${nKv} kv heads`);
  if (out.shape[0] !== T || out.shape[1] !== nH) throw new InvalidArgumentError(`attention: out [${out.shape}] for q [${q.shape}]`);
  if (o.vFromK ? hdV > hd : vCache.shape[2] !== hdV) throw new InvalidArgumentError(`attention: value dim ${hdV} does not fit the cache`);
  if (hd > 1024 || hdV > 1024) throw new InvalidArgumentError(`attention: head dims up to 1024 (got ${hd}, ${hdV})`);
  const window = o.window ?? 0;
  if (window === 0 && o.startPos + T > capacity) {
    throw new InvalidArgumentError(`attention: ${o.startPos + T} positions do not fit a full cache of ${capacity}`);
  }
  if (window > 0 && T + window - 1 > capacity) {
    throw new InvalidArgumentError(`attention: a rotating cache of ${capacity} cannot hold window ${window} + ${T} new tokens`);
  }
  ctx.dispatch(
    { shader: 'attention', layout: ['uniform', 'read', 'read', 'read', 'read', 'storage'] },
    [q, kCache, o.vFromK ? kCache : vCache, o.sinks ?? ctx.unused, out],
    [nH, T],
    params()
      .u32(T).u32(nH).u32(nKv).u32(hd).u32(hdV).u32(capacity).u32(o.startPos).u32(window)
      .f32(o.scale).f32(o.softcap ?? 0).u32(o.sinks ? 1 : 0).u32(o.vFromK ? 1 : 0),
  );
}
