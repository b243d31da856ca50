import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { POSITION } from '../gpu/capture.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';

/** Keys a workgroup of shaders/attentionMla.wgsl takes at a time (KB), threads per key in its scores (S), threads (WG). */
const MLA_KEYS = 32;
const MLA_SUB = 8;
const MLA_WG = 256;
/**
 * Query heads per workgroup by default (at most: fewer where the adapter's workgroup memory is smaller): 4 up to
 * MLA_FEW_HEADS_SPAN positions (shorter arithmetic per workgroup), 8 beyond (each latent row read by fewer
 * workgroups). H200, bench/mlaDecodeLab.ts (2026-12-03, one run, main + combine from DRAM): 14-15 against 17-19 µs
 * at 128 positions, 16-19 against 17-20 at 1,025 (a span of 1,280), 33-36 against 27-32 at 4,097.
 */
const MLA_HEADS_SHORT = 4;
const MLA_HEADS_LONG = 8;
const MLA_FEW_HEADS_SPAN = 1024;
/** Workgroups the split over keys aims for (256 threads each; two per SM of an H200, 132 SMs). */
const MLA_TARGET_WORKGROUPS = 256;
/** Chunks per query row at most. */
const MLA_MAX_CHUNKS = 256;
/** The grid is sized for positions rounded up to this, so that a recorded step replays for as many tokens. */
const MLA_BUCKET = 256;
/** Keys per value load step by default (a thread holds this many value vec4s in flight per 128 of the value). */
const MLA_VALUE_KEYS = 16;

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
 * attentionMlaFits holds. One dispatch when the keys fit one chunk, else the chunks and their combine.
 * Heads per workgroup, the split's target and the value step come from `ctx.kernelOverrides.mla` where given
 * (mlaDecodeShape).
 */
export function attentionMlaDecode(ctx: GpuContext, q: Tensor, cache: Tensor, out: Tensor, o: { startPos: number; scale: number }): void {
  const [T, nH, D] = q.shape as [number, number, number];
  const capacity = cache.shape[0]!;
  const Dv = out.shape[2]!;
  const end = o.startPos + T;
  const { HG, target, VPS } = mlaDecodeShape(ctx, nH, D / 4, mlaSpan(end, capacity));
  const groups = Math.ceil(nH / HG);
  const others = T * groups;
  const { chunk, nChunks } = mlaChunks(end, capacity, others, target);
  // A captured step holds at another position while the heads per workgroup and the split stay the same.
  if (ctx.capturing) {
    ctx.guard(POSITION, o.startPos, (startPos) => {
      if (mlaDecodeShape(ctx, nH, D / 4, mlaSpan(startPos + T, capacity)).HG !== HG) return false;
      const c = mlaChunks(startPos + T, capacity, others, target);
      return c.chunk === chunk && c.nChunks === nChunks;
    });
  }
  const direct = nChunks === 1;
  const DvU = Dv / 4;
  const accVec4s = T * nH * nChunks * DvU;
  const part = partials(ctx, direct ? 16 : (accVec4s + T * nH * nChunks) * 16);
  const key = { shader: 'attentionMla', defines: mlaDefines(HG, D / 4, DvU, VPS), layout: ['uniform', 'read', 'read', 'storage', 'storage'] as const };
  const p = () =>
    params()
      .u32(T)
      .u32(nH)
      .u32(capacity)
      .u32(o.startPos, POSITION)
      .u32(chunk)
      .u32(nChunks)
      .u32(direct ? 1 : 0)
      .f32(o.scale)
      .u32(accVec4s);
  const bindings = [q, cache, part, out];
  ctx.dispatch(key, bindings, [nChunks, groups, T], p());
  if (!direct) ctx.dispatch({ ...key, entry: 'combine' }, bindings, [nH, Math.ceil(DvU / 32), T], p());
}

/** Workgroup memory of the main entry for HG heads and rows of DU vec4s: queries [HG, DU] vec4s, partial scores [HG, 32, 8], scores and probabilities [HG, 32], 2 x HG. */
const mlaWorkgroupBytes = (HG: number, DU: number) => HG * (DU * 16 + MLA_KEYS * MLA_SUB * 4 + 2 * MLA_KEYS * 4 + 8);

/**
 * The kernel's shape for nH heads with rows of DU vec4s over a grid of `span` positions: heads per workgroup
 * (the override, or MLA_HEADS_SHORT / MLA_HEADS_LONG by the span; at most nH, fewer until the workgroup memory
 * fits the adapter's), the workgroups the split aims for, and the keys per value load step (8, 16 or 32).
 */
export function mlaDecodeShape(ctx: GpuContext, nH: number, DU: number, span: number): { HG: number; target: number; VPS: number } {
  const ov = ctx.kernelOverrides?.mla;
  const preferred = span <= MLA_FEW_HEADS_SPAN ? MLA_HEADS_SHORT : MLA_HEADS_LONG;
  let HG = Math.max(1, Math.min(nH, ov?.headsPerGroup ?? preferred));
  while (HG > 1 && mlaWorkgroupBytes(HG, DU) > ctx.limits.maxComputeWorkgroupStorageSize) HG--;
  const VPS = ov?.valueKeys ?? MLA_VALUE_KEYS;
  if (![8, 16, 32].includes(VPS)) throw new InvalidArgumentError(`attentionMla: valueKeys must be 8, 16 or 32, got ${VPS}`);
  return { HG, target: Math.max(1, ov?.targetWorkgroups ?? MLA_TARGET_WORKGROUPS), VPS };
}

/** The defines of shaders/attentionMla.wgsl for HG heads, rows of DU vec4s, values of DvU vec4s, VPS keys per value step. */
function mlaDefines(HG: number, DU: number, DvU: number, VPS: number): Record<string, number> {
  const VH = Math.ceil(HG / 2);
  const DVT = Math.ceil(DvU / 128);
  return {
    HG,
    DU,
    DVU: DvU,
    KPT: Math.ceil(DU / MLA_SUB),
    QPT: Math.ceil((HG * DU) / MLA_WG),
    SR: Math.ceil((HG * MLA_KEYS) / MLA_WG),
    VH,
    DVT,
    VPS,
    ACC: VH * DVT,
    VREG: VPS * DVT,
    QS: HG * DU,
    SP: HG * MLA_KEYS * MLA_SUB,
    PS: HG * MLA_KEYS,
  };
}

/** Positions the grid is sized for, for queries ending at `end`: `end` rounded up to MLA_BUCKET, at most the cache. */
export const mlaSpan = (end: number, capacity: number) => Math.min(Math.ceil(end / MLA_BUCKET) * MLA_BUCKET, capacity);

/** How the keys of queries ending at `end` split: `nChunks` chunks of `chunk` keys, for `end` rounded up to MLA_BUCKET. */
function mlaChunks(end: number, capacity: number, others: number, target: number): { chunk: number; nChunks: number } {
  const span = mlaSpan(end, capacity);
  const blocks = Math.ceil(span / MLA_KEYS);
  const wanted = Math.max(1, Math.min(Math.ceil(target / others), blocks, MLA_MAX_CHUNKS));
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
