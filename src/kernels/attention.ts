import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { POSITION } from '../gpu/capture.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';
import { attentionMlaDecode, attentionMlaFits } from './attentionMla.js';
import { attentionPrefill } from './attentionPrefill.js';
import type { RopeOptions } from './rope.js';
import { ropeWriteKv, type QkNorm } from './ropeKv.js';
import { mergesLater, mostChunks, type DecodeParts } from './decodeParts.js';

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
  /** false: no causal mask, every query sees keys 0 .. startPos + T - 1 (vision encoders; prefill kernel, no window). */
  readonly causal?: boolean;
  /** Force a path (tests, benchmarks); by default decode (split keys) for T <= DECODE_MAX_T, else prefill. */
  readonly path?: 'decode' | 'prefill';
  /**
   * Decode of one query row: where the keys split into chunks and `mergeable` allows, leave the chunks' partial
   * results unmerged and return them (`DecodeParts`), for the GEMV that reads `out` to merge as it reads them
   * (src/kernels/matmul.ts `matmulFused` with `merge`): one dispatch less. `out` is not written then.
   */
  readonly mergeLater?: boolean;
}

/** Query rows up to which the split-keys decode kernel is used. */
export const DECODE_MAX_T = 4;
/** Workgroups the decode path aims for: 128-thread workgroups, ~8 per SM of an H200 (132 SMs) to hide latency. */
const DECODE_TARGET_WORKGROUPS = 1024;
/** Threads of a decode workgroup, keys it takes at a time, threads per key in the scores (shaders/attentionDecode.wgsl: WG, KB, SUB). */
const DECODE_WG = 128;
const DECODE_KEYS = 32;
const DECODE_SUB = 4;
/** The decode grid is sized for positions rounded up to this, so that a recorded step replays for as many tokens. */
const DECODE_BUCKET = 256;
/** Chunks per query row at most: the merge walks every chunk of a row in one workgroup. */
const DECODE_MAX_CHUNKS = 256;
/** Workgroup memory the decode kernel may give to queries (floats): keeps it under WebGPU's 16 KiB minimum. */
const DECODE_Q_FLOATS = 2048;

const fail = (msg: string) => {
  throw new InvalidArgumentError(`attention: ${msg}`);
};

/**
 * out[t, h] = softmax over keys of (q[t, h] · k) · v, causal, over a KV cache where position j is in slot
 * j % capacity. q [T, nH, hd], kCache [capacity, nKv, hd], vCache [capacity, nKv, hdV], out [T, nH, hdV].
 * Decode (T <= 4) splits the keys across workgroups and merges the chunks (two dispatches when the
 * context needs several chunks); a longer chunk of queries runs the tiled flash-attention kernel.
 */
export function attention(ctx: GpuContext, q: Tensor, kCache: Tensor, vCache: Tensor, out: Tensor, o: AttentionOptions): DecodeParts | undefined {
  checkAttention(q, kCache, vCache, out, o);
  const [T, , hd] = q.shape as [number, number, number];
  const [, nKv] = kCache.shape as [number, number];
  const hdV = out.shape[2]!;
  const window = o.window ?? 0;
  if (T === 0) return;
  const vFromK = !!o.vFromK;
  const v = vFromK ? kCache : vCache;
  const vStride = nKv * (vFromK ? hd : hdV);
  const bidirectional = o.causal === false;
  if (bidirectional && (window > 0 || o.path === 'decode')) fail('a non-causal attention takes no window and runs the prefill kernel');
  const path = bidirectional ? 'prefill' : (o.path ?? (T <= DECODE_MAX_T ? 'decode' : 'prefill'));
  if (path === 'prefill') {
    attentionPrefill(ctx, q, kCache, v, out, { startPos: o.startPos, scale: o.scale, window, sinks: o.sinks, softcap: o.softcap, vStride, bidirectional });
    return;
  }

  // MLA (many heads on one latent kv head of a large head dim): its own kernel, every cache row read once per 16 heads.
  if (attentionMlaFits(T, nKv, hd, hdV, o)) return attentionMlaDecode(ctx, q, kCache, out, o);
  return attentionDecode(ctx, q, kCache, v, out, o, vStride);
}

/**
 * RoPE of a decode token's q and k (after their per-head RMSNorms, with `norm`), the append of k and v to the
 * cache, and the attention of q over it: what ropeWriteKv then attention compute. For one query row whose raw
 * q, k and v lie in one buffer (the fused q|k|v GEMV's output) and no norms, the decode kernel does it all in
 * one dispatch (FUSED_ROPE in shaders/attentionDecode.wgsl) where its workgroup memory allows and
 * ctx.kernelOverrides.attention.fuseRope is not false; otherwise the two run one after the other. With the norms
 * (Qwen3, Gemma 3) the fused kernel measured slower on the H200 at 4,096 positions (bench/README.md), so they
 * keep ropeKv.
 */
export function ropeAttention(
  ctx: GpuContext,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  rope: DecodeRope,
  kCache: Tensor,
  vCache: Tensor,
  out: Tensor,
  o: AttentionOptions,
): DecodeParts | undefined {
  const fused = fusedRopeShape(ctx, q, k, v, rope, kCache, vCache, o);
  if (!fused) {
    ropeWriteKv(ctx, q, k, v, rope.positions, rope.invFreq, rope.options, kCache, vCache, o.startPos, rope.norm);
    return attention(ctx, q, kCache, vCache, out, o);
  }
  checkAttention(q, kCache, vCache, out, o);
  return attentionDecode(ctx, q, kCache, vCache, out, o, kCache.shape[1]! * vCache.shape[2]!, { ...fused, k, v, rope });
}

/** The rotation of ropeAttention's step: positions [1] u32, invFreq [rotaryDim / 2] f32, the per-head norms. */
export interface DecodeRope {
  readonly positions: Tensor;
  readonly invFreq: Tensor;
  readonly options: RopeOptions;
  readonly norm?: QkNorm;
}

interface FusedRope {
  readonly k: Tensor;
  readonly v: Tensor;
  readonly rope: DecodeRope;
  readonly HG: number;
}

/** Floats of workgroup memory the fused RoPE prologue takes for HG heads of dim hd and values of hdV. */
const fusedRopeFloats = (HG: number, hd: number, hdV: number) => (HG + 2) * hd + hdV;

function fusedRopeShape(ctx: GpuContext, q: Tensor, k: Tensor, v: Tensor, rope: DecodeRope, kCache: Tensor, vCache: Tensor, o: AttentionOptions) {
  const [T, nH, hd] = q.shape as [number, number, number];
  const [, nKv] = kCache.shape as [number, number];
  const hdV = vCache.shape[2]!;
  const n = rope.norm;
  const offset = rope.options.offset ?? 0;
  if (T !== 1 || o.vFromK || o.causal === false || o.path === 'prefill' || rope.options.mropeSections) return undefined;
  if (ctx.kernelOverrides?.attention?.fuseRope === false || attentionMlaFits(T, nKv, hd, hdV, o)) return undefined;
  if (n) return undefined;
  if (k.buffer !== q.buffer || v.buffer !== q.buffer || k.offset % 4 !== 0 || v.offset % 4 !== 0 || k.offset < q.offset || v.offset < q.offset)
    return undefined;
  if (k.shape.join() !== `1,${nKv},${hd}` || v.shape.join() !== `1,${nKv},${hdV}`) return undefined;
  if (!(rope.options.rotaryDim > 0 && rope.options.rotaryDim % 2 === 0 && offset >= 0 && offset + rope.options.rotaryDim <= hd)) return undefined;
  const HG = decodeHeads(ctx, nH / nKv, hd);
  const base = decodeDefines(HG, hd, hdV, hdV, 0);
  const spare = DECODE_WG_BYTES - decodeFixedBytes(HG, hd, base);
  if (fusedRopeFloats(HG, hd, hdV) * 4 > spare) return undefined;
  return { HG };
}

/** Query heads per decode workgroup for G query heads per kv head of dim hd. */
function decodeHeads(ctx: GpuContext, G: number, hd: number): number {
  return Math.max(1, Math.min(G, 8, Math.floor(DECODE_Q_FLOATS / hd), ctx.kernelOverrides?.attention?.headsPerGroup ?? decodeHeadsPerGroup(G)));
}

/**
 * The decode dispatches: workgroups over (chunk of keys, kv head x head group, query row), then the merge of
 * the chunks. With `fused`, the q|k|v GEMV's raw output is rotated, normed and appended by the kernel itself.
 */
function attentionDecode(
  ctx: GpuContext,
  q: Tensor,
  kCache: Tensor,
  v: Tensor,
  out: Tensor,
  o: AttentionOptions,
  vStride: number,
  fused?: FusedRope,
): DecodeParts | undefined {
  const [T, nH, hd] = q.shape as [number, number, number];
  const [capacity, nKv] = kCache.shape as [number, number];
  const hdV = out.shape[2]!;
  const window = o.window ?? 0;
  const end = o.startPos + T;
  const sinks = o.sinks ?? ctx.unused;
  const G = nH / nKv;
  const HG = fused?.HG ?? decodeHeads(ctx, G, hd);
  const groups = Math.ceil(G / HG);
  const others = T * nKv * groups;
  const target = ctx.kernelOverrides?.attention?.targetWorkgroups ?? DECODE_TARGET_WORKGROUPS;
  const mergeable = !!o.mergeLater && T === 1 && !o.sinks && hdV % 32 === 0 && ctx.kernelOverrides?.attention?.mergeLater !== false;
  const split = (e: number) => decodeChunks(e, window, capacity, others, target, mergeable);
  const { chunk, nChunks } = split(end);
  // A captured step (src/gpu/capture.ts) holds at another position while the keys split the same way.
  if (ctx.capturing) {
    ctx.guard(POSITION, o.startPos, (startPos) => {
      const c = split(startPos + T);
      return c.chunk === chunk && c.nChunks === nChunks;
    });
  }
  const direct = nChunks === 1;
  const later = mergesLater(mergeable, nChunks);
  const dv4 = Math.ceil(hdV / 4) * 4;
  const accFloats = T * nH * nChunks * dv4;
  // Bound even when direct: `unused` may already be bound read-only (sinks) in the same dispatch.
  const part = partials(ctx, direct ? 16 : (accFloats + 2 * T * nH * nChunks) * 4);
  const ropeFloats = fused ? fusedRopeFloats(HG, hd, hdV) : 0;
  const defines = decodeDefines(HG, hd, hdV, vStride / nKv, ropeFloats);
  const key = { shader: 'attentionDecode', defines, layout: DECODE_LAYOUT };
  const p = () => {
    const b = params()
      .u32(T)
      .u32(nH)
      .u32(nKv)
      .u32(hd)
      .u32(hdV)
      .u32(vStride)
      .u32(capacity)
      .u32(o.startPos, POSITION)
      .u32(window)
      .u32(chunk)
      .u32(nChunks)
      .u32(groups)
      .u32(direct ? 1 : 0)
      .u32(o.sinks ? 1 : 0)
      .f32(o.scale)
      .f32(o.softcap ?? 0)
      .u32(accFloats)
      .u32(dv4);
    if (!fused) return b;
    const r = fused.rope.options;
    return b
      .u32((fused.k.offset - q.offset) / 4)
      .u32((fused.v.offset - q.offset) / 4)
      .u32(r.rotaryDim / 2)
      .u32(r.offset ?? 0)
      .f32(r.attentionFactor ?? 1);
  };
  const bindings = [q, kCache, v, sinks, part, out];
  if (fused) {
    const r = fused.rope;
    const fusedDefines = { ...defines, FUSED_ROPE: true, INTERLEAVED: r.options.layout === 'interleaved', FD: hd, FDV: hdV };
    const qAll = ctx.view(q, [(fused.v.offset - q.offset) / 4 + nKv * hdV]);
    ctx.dispatch(
      { shader: 'attentionDecode', defines: fusedDefines, layout: DECODE_FUSED_LAYOUT },
      [qAll, kCache, v, sinks, part, out, r.positions, r.invFreq],
      [nChunks, nKv * groups, T],
      p(),
    );
  } else {
    ctx.dispatch(key, bindings, [nChunks, nKv * groups, T], p());
  }
  if (later) return { buffer: part, nH, Dv: hdV, nChunks, dv4, mlOffset: accFloats, mlStride: 2 };
  if (!direct) ctx.dispatch({ ...key, entry: 'combine' }, bindings, [nH, T], p());
  return undefined;
}

const DECODE_LAYOUT = ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage'] as const;
/** FUSED_ROPE: the caches written, then positions and invFreq. */
const DECODE_FUSED_LAYOUT = ['uniform', 'read', 'storage', 'storage', 'read', 'storage', 'storage', 'read', 'read'] as const;
/** Workgroup memory the decode kernel may use: WebGPU's guaranteed minimum. */
const DECODE_WG_BYTES = 16384;
/** Value units (4 floats or 1) a decode thread loads at once per key step: keeps its registers bounded. */
const DECODE_V_REGS = 16;

/**
 * The decode kernel's shape (shaders/attentionDecode.wgsl) for HG heads per workgroup, head dims hd / hdV
 * and V rows of vHeadStride floats per kv head: K and V units, how the value units and the block's keys
 * are spread over the threads, and the sizes of its workgroup arrays.
 */
function decodeDefines(HG: number, hd: number, hdV: number, vHeadStride: number, ropeFloats: number): Record<string, number | boolean> {
  const vec4 = hd % 4 === 0;
  const vec4V = hdV % 4 === 0 && vHeadStride % 4 === 0;
  const DU = vec4 ? hd / 4 : hd;
  const VQ = vec4V ? hdV / 4 : hdV;
  const VUT = Math.ceil(VQ / DECODE_WG);
  // Lanes over the keys: the largest power of two of threads per value unit, at most the keys of a block.
  const VL = VQ >= DECODE_WG ? 1 : Math.min(DECODE_KEYS, 2 ** Math.floor(Math.log2(DECODE_WG / VQ)));
  const VPL = DECODE_KEYS / VL;
  const VPS = Math.min(VPL, 2 ** Math.floor(Math.log2(Math.max(1, DECODE_V_REGS / VUT))));
  const qBytes = HG * DU * (vec4 ? 16 : 4);
  const scoreFloats = HG * DECODE_KEYS * DECODE_SUB;
  // Heads whose value lanes meet at once: as many as the workgroup memory holds after the queries, the block's
  // scores and probabilities (ps, pp) and 256 bytes for the per-head arrays.
  const laneFloats = VL * VQ * (vec4V ? 4 : 1);
  const MH =
    VL === 1 ? HG : Math.max(1, Math.min(HG, Math.floor((DECODE_WG_BYTES - qBytes - 2 * HG * DECODE_KEYS * 4 - 256 - 4 * ropeFloats) / 4 / laneFloats)));
  return {
    HG,
    DU,
    KPT: Math.ceil(DU / DECODE_SUB),
    VEC4: vec4,
    VEC4V: vec4V,
    VQ,
    VUT,
    VL,
    VPS,
    SR: Math.ceil((HG * DECODE_KEYS) / DECODE_WG),
    ACC: HG * VUT,
    VREG: VPS * VUT,
    QS: HG * DU,
    QPT: Math.ceil((HG * DU) / DECODE_WG),
    MH,
    SP: Math.max(scoreFloats, VL > 1 ? MH * laneFloats : 1),
    PS: HG * DECODE_KEYS,
    CQ: 2 ** Math.ceil(Math.log2(Math.ceil(hdV / 4))),
  };
}

/**
 * Query heads per decode workgroup for G query heads per kv head: the fewest of 2, 4, 8 with which every K/V row
 * is read by at most 3 head groups. Fewer heads make each workgroup's arithmetic shorter (what limits short
 * contexts); more groups read each K/V row more often (what limits long ones). Measured on the H200
 * (bench/README.md, decodeAnatomy): G = 4 and 6 fastest with 2, G = 8 with 4.
 */
function decodeHeadsPerGroup(G: number): number {
  return [2, 4, 8].find((hg) => Math.ceil(G / hg) <= 3) ?? 8;
}

/**
 * How the decode path splits the keys of queries ending at `end`: `nChunks` chunks of `chunk` keys (whole
 * blocks of DECODE_KEYS), sized for `end` rounded up to DECODE_BUCKET (the chunks past the keys are empty).
 * `mergeable` (the next GEMV can merge them): spans of up to 2 blocks a chunk split into MERGE_LATER_MAX_CHUNKS at
 * most, so that the merge is the GEMV's and not a dispatch of its own.
 */
function decodeChunks(end: number, window: number, capacity: number, others: number, target: number, mergeable = false): { chunk: number; nChunks: number } {
  const limit = window > 0 ? Math.min(window, capacity) : capacity;
  const span = Math.min(Math.ceil((window > 0 ? Math.min(window, end) : end) / DECODE_BUCKET) * DECODE_BUCKET, limit); // most keys a query sees
  const blocks = Math.ceil(span / DECODE_KEYS);
  const wanted = Math.max(1, Math.min(Math.ceil(target / others), blocks, mostChunks(mergeable, blocks, DECODE_MAX_CHUNKS)));
  const chunk = Math.ceil(blocks / wanted) * DECODE_KEYS;
  return { chunk, nChunks: Math.ceil(span / chunk) };
}

/** One growing scratch buffer per context for the decode chunks' partial results (reused by every layer). */
const scratch = new WeakMap<GpuContext, GPUBuffer>();

function partials(ctx: GpuContext, bytes: number): GPUBuffer {
  let buf = scratch.get(ctx);
  if (!buf || buf.size < bytes) {
    const size = Math.max(bytes, 2 * (buf?.size ?? 0), 1 << 16);
    // Recorded work and captured steps may bind the old buffer: retired (submitted first, captures dropped).
    if (buf) ctx.retireBuffer(buf);
    buf = ctx.createBuffer(size, undefined, 'attention.partials');
    scratch.set(ctx, buf);
  }
  return buf;
}

/** Workgroup bytes of the decode kernel for these defines, its fused RoPE arrays aside. */
function decodeFixedBytes(HG: number, hd: number, d: Record<string, number | boolean>): number {
  const unit = d.VEC4 ? 16 : 4;
  return HG * (hd / (d.VEC4 ? 4 : 1)) * unit + 4 * ((d.SP as number) + 2 * (d.PS as number) + 3 * HG);
}

/** The checks of `attention`'s arguments. */
function checkAttention(q: Tensor, kCache: Tensor, vCache: Tensor, out: Tensor, o: AttentionOptions): void {
  const [T, nH, hd] = q.shape as [number, number, number];
  const [capacity, nKv, kd] = kCache.shape as [number, number, number];
  const hdV = out.shape[2]!;
  for (const [name, t] of [
    ['q', q],
    ['kCache', kCache],
    ['vCache', vCache],
    ['out', out],
  ] as const) {
    if (t.dtype !== 'f32' || t.shape.length !== 3) fail(`${name} must be a 3-d f32 tensor, got ${t.dtype} [${t.shape}]`);
  }
  if (o.sinks && (o.sinks.dtype !== 'f32' || o.sinks.shape[0] !== nH)) fail(`sinks must be [${nH}] f32, got ${o.sinks.dtype} [${o.sinks.shape}]`);
  if (kd !== hd) fail(`q head dim ${hd} != cache head dim ${kd}`);
  if (nH % nKv !== 0) fail(`${nH} query heads are not a multiple of ${nKv} kv heads`);
  if (out.shape[0] !== T || out.shape[1] !== nH) fail(`out [${out.shape}] for q [${q.shape}]`);
  if (o.vFromK) {
    if (hdV > hd) fail(`value dim ${hdV} exceeds the head dim ${hd} it is read from (vFromK)`);
  } else if (vCache.shape[0] !== capacity || vCache.shape[1] !== nKv || vCache.shape[2] !== hdV) {
    fail(`vCache [${vCache.shape}] does not match kCache [${kCache.shape}] and out [${out.shape}]`);
  }
  if (hd > 1024 || hdV > 1024) fail(`head dims up to 1024 (got ${hd}, ${hdV})`);
  const window = o.window ?? 0;
  if (!Number.isInteger(window) || window < 0) fail(`window must be a non-negative integer, got ${window}`);
  const end = o.startPos + T;
  // Every key a query sees must still be in the cache: no wrap at all, or a ring that holds window + T - 1.
  if (end > capacity && (window === 0 || T + window - 1 > capacity)) {
    fail(
      window === 0
        ? `${end} positions do not fit a full cache of ${capacity}`
        : `a rotating cache of ${capacity} cannot hold window ${window} + ${T} new tokens`,
    );
  }
}
