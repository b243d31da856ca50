import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { POSITION } from '../gpu/capture.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';

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
 * Which prefill kernel runs: `flash` (shaders/attentionFlash.wgsl, register-blocked, keys split across
 * workgroups) wherever it fits, `rows` (shaders/attentionPrefill.wgsl) for wider values. The benchmarks and
 * tests pick others through ctx.kernelOverrides.attentionPrefill (src/gpu/kernelOverrides.ts).
 */
const overrides = (ctx: GpuContext) => ctx.kernelOverrides?.attentionPrefill ?? {};

/** Widest value head the flash kernel keeps in registers (4 rows x Dv per thread). */
const FLASH_MAX_DV = 256;
/** Query rows of a flash workgroup (shaders/attentionFlash.wgsl: BQ). */
const FLASH_BQ = 64;
/** Workgroups the flash grid aims for (with the key splits): ~4 per SM of an H200 (132 SMs). */
const FLASH_TARGET_WORKGROUPS = 512;
/** Fewest keys a split takes. */
const FLASH_MIN_SPLIT_KEYS = 256;
/** Most bytes the splits' partial results may take. */
const FLASH_MAX_PARTIAL_BYTES = 64 << 20;
/** Workgroups the row kernel's grid needs to take tiles of 32 rows instead of 16. */
const ROWS_WIDE_MIN_WORKGROUPS = 264;

/**
 * Tiled flash attention of a chunk of T query rows over the cache. q [T, nH, hd], kCache [capacity, nKv, hd],
 * v [capacity, vStride], out [T, nH, hdV]; checked by attention().
 */
export function attentionPrefill(ctx: GpuContext, q: Tensor, kCache: Tensor, v: Tensor, out: Tensor, o: AttentionPrefillOptions): void {
  const hdV = out.shape[2]!;
  const bk = flashTile(ctx, hdV);
  const kernel = overrides(ctx).kernel ?? 'auto';
  if (kernel === 'flash' && bk === undefined)
    throw new InvalidArgumentError(`attention: the flash prefill kernel (tuned as asked) does not fit value dim ${hdV} or this adapter's workgroup memory`);
  if (kernel === 'rows' || bk === undefined) rowsKernel(ctx, q, kCache, v, out, o);
  else flashKernel(ctx, q, kCache, v, out, o, bk);
}

/** The flash kernel's workgroup memory (vec4 of `sa` and `psh`, and bytes) for tiles of `bk` keys and head-dim slabs of `ds`. */
function flashShared(bk: number, ds: number): { sa: number; psh: number; bytes: number } {
  const qs4 = ds / 4 + 1;
  const sa = Math.max((FLASH_BQ + bk) * qs4, FLASH_BQ * 4 + bk * 8);
  const psh = FLASH_BQ * (bk / 4 + 1);
  return { sa, psh, bytes: (sa + psh) * 16 };
}

const slabOf = (ctx: GpuContext, bk: number) => overrides(ctx).ds ?? (bk === 64 ? 16 : 32);

/** Keys per tile of the flash kernel for values of `hdV` on this adapter, or undefined where it does not fit. */
function flashTile(ctx: GpuContext, hdV: number): 32 | 64 | undefined {
  if (hdV > FLASH_MAX_DV) return undefined;
  const limit = ctx.limits.maxComputeWorkgroupStorageSize;
  const fits = (bk: 32 | 64) => flashShared(bk, slabOf(ctx, bk)).bytes <= limit;
  const want = overrides(ctx).bk;
  if (want) return fits(want) ? want : undefined;
  // 32 keys: 64 a tile kept more scores in registers and ran 1.4x slower on the H200 (bench/README.md).
  return fits(32) ? 32 : undefined;
}

/** How the flash kernel splits the keys a chunk sees: `splits` ranges of `splitLen` keys from `base`. */
function flashSplits(ctx: GpuContext, T: number, nH: number, nKv: number, hdV: number, startPos: number, window: number, bidirectional: boolean, bk: number) {
  const end = startPos + T;
  const base = bidirectional || window === 0 ? 0 : Math.max(0, startPos + 1 - window);
  const span = end - base;
  const tiles = Math.ceil((T * nH) / nKv / FLASH_BQ) * nKv;
  const rowBytes = T * nH * (Math.ceil(hdV / 4) + 1) * 16;
  const most = Math.max(1, Math.min(Math.floor(span / FLASH_MIN_SPLIT_KEYS), Math.floor(FLASH_MAX_PARTIAL_BYTES / rowBytes)));
  const t = overrides(ctx);
  const wanted = t.splits ?? Math.min(Math.ceil((t.targetWorkgroups ?? FLASH_TARGET_WORKGROUPS) / tiles), most);
  const splitLen = Math.ceil(span / Math.max(1, wanted) / bk) * bk;
  return { base, splitLen, splits: Math.ceil(span / splitLen) };
}

function flashKernel(ctx: GpuContext, q: Tensor, kCache: Tensor, v: Tensor, out: Tensor, o: AttentionPrefillOptions, bk: 32 | 64): void {
  const [T, nH, hd] = q.shape as [number, number, number];
  const [capacity, nKv] = kCache.shape as [number, number, number];
  const hdV = out.shape[2]!;
  const plan = flashSplits(ctx, T, nH, nKv, hdV, o.startPos, o.window, o.bidirectional, bk);
  if (ctx.capturing) {
    ctx.guard(POSITION, o.startPos, (startPos) => {
      const p = flashSplits(ctx, T, nH, nKv, hdV, startPos, o.window, o.bidirectional, bk);
      return p.base === plan.base && p.splitLen === plan.splitLen && p.splits === plan.splits;
    });
  }
  const NVS = Math.ceil(hdV / 32);
  const ds = slabOf(ctx, bk);
  const shared = flashShared(bk, ds);
  const dv4 = Math.ceil(hdV / 4);
  const mlBase = plan.splits * T * nH * dv4;
  // Bound even with one split: `unused` may already be bound read-only (sinks) in the same dispatch.
  const part = partials(ctx, plan.splits > 1 ? (mlBase + plan.splits * T * nH) * 16 : 16);
  const key = {
    shader: 'attentionFlash',
    defines: {
      BK: bk,
      DS: ds,
      NVS,
      ACC: 4 * NVS,
      S: bk / 2,
      SA: shared.sa,
      PSH: shared.psh,
      VEC4: hd % 4 === 0 && hdV % 4 === 0 && o.vStride % 4 === 0,
      ...(o.bidirectional ? { BIDIRECTIONAL: true } : {}),
    },
    layout: ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage'] as const,
  };
  const p = () =>
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
      .f32(o.softcap ?? 0)
      .u32(plan.base)
      .u32(plan.splitLen)
      .u32(plan.splits)
      .u32(mlBase);
  const bindings = [q, kCache, v, o.sinks ?? ctx.unused, out, part];
  ctx.dispatch(key, bindings, [Math.ceil((T * nH) / nKv / FLASH_BQ), nKv, plan.splits], p());
  if (plan.splits > 1) ctx.dispatch({ ...key, entry: 'combine' }, bindings, [T, nH], p());
}

/** One growing scratch buffer per context for the key splits' partial results (reused by every layer). */
const scratch = new WeakMap<GpuContext, GPUBuffer>();

function partials(ctx: GpuContext, bytes: number): GPUBuffer {
  let buf = scratch.get(ctx);
  if (!buf || buf.size < bytes) {
    // The old buffer may still be bound by recorded work: it is dropped, not destroyed.
    buf = ctx.createBuffer(Math.max(bytes, 2 * (buf?.size ?? 0), 1 << 16), undefined, 'attentionPrefill.partials');
    scratch.set(ctx, buf);
  }
  return buf;
}

/** shaders/attentionPrefill.wgsl: 16 or 32 rows per workgroup, any value width (MLA's 512). */
function rowsKernel(ctx: GpuContext, q: Tensor, kCache: Tensor, v: Tensor, out: Tensor, o: AttentionPrefillOptions): void {
  const [T, nH, hd] = q.shape as [number, number, number];
  const [capacity, nKv] = kCache.shape as [number, number, number];
  const hdV = out.shape[2]!;
  const G = nH / nKv;
  const NVS = Math.ceil(hdV / 32);
  // Two rows per thread where the accumulators (RPT * NVS * 4) stay in registers and the grid still
  // gives every SM of a large GPU two workgroups; else one.
  const RPT = hdV <= 256 && Math.ceil((T * G) / 32) * nKv >= ROWS_WIDE_MIN_WORKGROUPS ? 2 : 1;
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
