import type { GpuContext } from '../gpu/context.js';
import { POSITION } from '../gpu/capture.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';
import { mergesLater, mostChunks, type DecodeParts } from './decodeParts.js';

/** Keys a workgroup of shaders/attentionMla.wgsl takes at a time (KB), and heads it serves (HG). */
const MLA_KEYS = 32;
const MLA_HEADS = 16;
/** Workgroups the split over keys aims for (256 threads each; two per SM of an H200, 132 SMs). */
const MLA_TARGET_WORKGROUPS = 256;
/** Chunks per query row at most (the combine's workgroup memory holds 256). */
const MLA_MAX_CHUNKS = 256;
/** The grid is sized for positions rounded up to this, so that a recorded step replays for as many tokens. */
const MLA_BUCKET = 256;

/**
 * Whether the MLA decode kernel takes this attention: T <= 4 query rows, one kv head with values read from
 * the keys (vFromK), head dims multiples of 4, a full causal cache (no window, sinks or softcap).
 */
export function attentionMlaFits(
  T: number,
  nKv: number,
  hd: number,
  hdV: number,
  o: { vFromK?: boolean; window?: number; sinks?: unknown; softcap?: number },
): boolean {
  return T >= 1 && T <= 4 && nKv === 1 && !!o.vFromK && hd % 4 === 0 && hdV % 4 === 0 && !o.window && !o.sinks && !o.softcap;
}

/**
 * Decode attention of T <= 4 rows of nH query heads over an MLA latent cache: q [T, nH, D], cache
 * [capacity, 1, D], out [T, nH, Dv] = softmax(q · k * scale) · k[:Dv], causal (query t at startPos + t).
 * Shapes are checked by attention() (src/kernels/attention.ts), which dispatches here when
 * attentionMlaFits holds. One dispatch when the keys fit one chunk, else the chunks and their combine; with
 * `mergeLater` (one row, at most MERGE_LATER_MAX_CHUNKS chunks) the chunks are returned unmerged instead, for
 * headMatmul to merge as it reads them (`out` is not written). `tileVec4s` forces the tile width (tests); by
 * default mlaTileVec4s.
 */
export function attentionMlaDecode(
  ctx: GpuContext,
  q: Tensor,
  cache: Tensor,
  out: Tensor,
  o: { startPos: number; scale: number; tileVec4s?: 16 | 32; mergeLater?: boolean },
): DecodeParts | undefined {
  const [T, nH, D] = q.shape as [number, number, number];
  const capacity = cache.shape[0]!;
  const Dv = out.shape[2]!;
  const end = o.startPos + T;
  const groups = Math.ceil(nH / MLA_HEADS);
  const others = T * groups;
  const mergeable = !!o.mergeLater && T === 1 && ctx.kernelOverrides?.attention?.mergeLater !== false;
  const { chunk, nChunks } = mlaChunks(end, capacity, others, mergeable);
  if (ctx.capturing) {
    ctx.guard(POSITION, o.startPos, (startPos) => {
      const c = mlaChunks(startPos + T, capacity, others, mergeable);
      return c.chunk === chunk && c.nChunks === nChunks;
    });
  }
  const direct = nChunks === 1;
  const later = mergesLater(mergeable, nChunks);
  const DvU = Dv / 4;
  const accVec4s = T * nH * nChunks * DvU;
  const part = partials(ctx, direct ? 16 : (accVec4s + T * nH * nChunks) * 16);
  const DVT = Math.ceil(DvU / 128);
  const TD = o.tileVec4s ?? mlaTileVec4s(ctx);
  const key = { shader: 'attentionMla', defines: { DVT, ACC: 8 * DVT, TD }, layout: ['uniform', 'read', 'read', 'storage', 'storage'] as const };
  const p = () =>
    params()
      .u32(T)
      .u32(nH)
      .u32(D / 4)
      .u32(DvU)
      .u32(capacity)
      .u32(o.startPos, POSITION)
      .u32(chunk)
      .u32(nChunks)
      .u32(direct ? 1 : 0)
      .f32(o.scale)
      .u32(accVec4s);
  const bindings = [q, cache, part, out];
  ctx.dispatch(key, bindings, [nChunks, groups, T], p());
  if (later) return { buffer: part, nH, Dv, nChunks, dv4: Dv, mlOffset: accVec4s * 4, mlStride: 4 };
  if (!direct) ctx.dispatch({ ...key, entry: 'combine' }, bindings, [nH, Math.ceil(DvU / 32), T], p());
  return undefined;
}

/** Workgroup memory of the main entry: key tile [32, TD + 1] and query tile [16, TD] vec4s, plus 3.3 KiB. */
const mlaWorkgroupBytes = (TD: number) => (32 * (TD + 1) + 16 * TD) * 16 + 3328;

/** vec4s of the head dim per tile: 32 where the adapter's workgroup memory holds those tiles, else 16. */
export function mlaTileVec4s(ctx: GpuContext): number {
  return ctx.device.limits.maxComputeWorkgroupStorageSize >= mlaWorkgroupBytes(32) ? 32 : 16;
}

/**
 * How the keys of queries ending at `end` split: `nChunks` chunks of `chunk` keys, for `end` rounded up to MLA_BUCKET;
 * `mergeable`: spans of up to 2 blocks a chunk in MERGE_LATER_MAX_CHUNKS chunks at most (headMatmul merges them).
 */
function mlaChunks(end: number, capacity: number, others: number, mergeable: boolean): { chunk: number; nChunks: number } {
  const span = Math.min(Math.ceil(end / MLA_BUCKET) * MLA_BUCKET, capacity);
  const blocks = Math.ceil(span / MLA_KEYS);
  const wanted = Math.max(1, Math.min(Math.ceil(MLA_TARGET_WORKGROUPS / others), blocks, mostChunks(mergeable, blocks, MLA_MAX_CHUNKS)));
  const chunk = Math.ceil(blocks / wanted) * MLA_KEYS;
  return { chunk, nChunks: Math.ceil(span / chunk) };
}

/** One growing scratch buffer per context for the chunks' partial results (reused by every layer). */
const scratch = new WeakMap<GpuContext, GPUBuffer>();

function partials(ctx: GpuContext, bytes: number): GPUBuffer {
  let buf = scratch.get(ctx);
  if (!buf || buf.size < bytes) {
    // The old buffer may still be bound by recorded work: it is dropped, not destroyed.
    buf = ctx.createBuffer(Math.max(bytes, 2 * (buf?.size ?? 0), 1 << 16), undefined, 'attentionMla.partials');
    scratch.set(ctx, buf);
  }
  return buf;
}
