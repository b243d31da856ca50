import type { GpuContext } from '../gpu/context.js';
import { POSITION } from '../gpu/capture.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';

/** Workgroups the prefill grid needs to take tiles of 32 rows instead of 16. */
const PREFILL_WIDE_MIN_WORKGROUPS = 264;

/** What the prefill kernel needs beyond the tensors (attention() has checked them). */
export interface AttentionPrefillOptions {
  readonly startPos: number;
  readonly scale: number;
  /** Sliding window, 0: full causal. */
  readonly window: number;
  readonly sinks?: Tensor;
  readonly softcap?: number;
  /** Floats per cache row of V: nKv * hdV, or nKv * hd when V is read from K (MLA). */
  readonly vStride: number;
  /** Every query sees every cached key (no causal mask, no window). */
  readonly bidirectional: boolean;
}

/**
 * Tiled flash attention of a chunk of T query rows over the cache (shaders/attentionPrefill.wgsl).
 * q [T, nH, hd], kCache [capacity, nKv, hd], v [capacity, vStride], out [T, nH, hdV]; checked by attention().
 */
export function attentionPrefill(ctx: GpuContext, q: Tensor, kCache: Tensor, v: Tensor, out: Tensor, o: AttentionPrefillOptions): void {
  const [T, nH, hd] = q.shape as [number, number, number];
  const [capacity, nKv] = kCache.shape as [number, number, number];
  const hdV = out.shape[2]!;
  const G = nH / nKv;
  const NVS = Math.ceil(hdV / 32);
  // Two rows per thread where the accumulators (RPT * NVS * 4) stay in registers and the grid still
  // gives every SM of a large GPU two workgroups; else one.
  const RPT = hdV <= 256 && Math.ceil((T * G) / 32) * nKv >= PREFILL_WIDE_MIN_WORKGROUPS ? 2 : 1;
  ctx.dispatch(
    {
      shader: 'attentionPrefill',
      defines: { RPT, NVS, ACC: RPT * NVS * 4, S: RPT * 4, QSH: RPT * 512, ...(o.bidirectional ? { BIDIRECTIONAL: true } : {}) },
      layout: ['uniform', 'read', 'read', 'read', 'read', 'storage'],
    },
    [q, kCache, v, o.sinks ?? ctx.unused, out],
    [Math.ceil((T * G) / (16 * RPT)), nKv],
    params()
      .u32(T)
      .u32(nH)
      .u32(nKv)
      .u32(hd)
      .u32(hdV)
      .u32(o.vStride)
      .u32(capacity)
      .u32(o.startPos, POSITION)
      .u32(o.window)
      .u32(o.sinks ? 1 : 0)
      .f32(o.scale)
      .f32(o.softcap ?? 0),
  );
}
