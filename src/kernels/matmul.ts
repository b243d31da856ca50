import { InvalidArgumentError } from '../errors.js';
import type { Binding, GpuContext } from '../gpu/context.js';
import type { GemvOverrides } from '../gpu/kernelOverrides.js';
import { params } from '../gpu/params.js';
import { dtypeLayout, numel, tensorBytes, type DType, type Tensor } from '../gpu/tensor.js';
import type { DecodeParts } from './decodeParts.js';
import { alignedBinding, rowParts } from './binding.js';
import { gemmInt8, quantizeX8, releaseX8, useGemmInt8 } from './matmulInt8.js';
import { gemmMatrix, useGemmMatrix } from './matmulSubgroupMatrix.js';
import { gemmMatrixInt8, useGemmMatrixInt8 } from './matmulSubgroupMatrixInt8.js';
import { weightDefine } from './weights.js';
import { xPlanesK } from './xPlanes.js';

/** Largest T that takes the GEMV path (each weight row read once for all T rows of x). */
export const GEMV_MAX_T = 4;

const NO_OVERRIDES: GemvOverrides = {};

/** The GEMV overrides of bench/ and the tests (ctx.kernelOverrides.gemv); none in shipping use. */
const gemvOverrides = (ctx: GpuContext): GemvOverrides => ctx.kernelOverrides?.gemv ?? NO_OVERRIDES;

/** Workgroup memory of one unit (64 values) of x in the integer-dot GEMV: 8 vec4<u32> planes + 1 vec4 of scales and sums. */
const INT8_UNIT_BYTES = 9 * 16;

interface Int8GemvShape {
  L: number;
  R: number;
  KC: number;
}

/**
 * Shape of the integer-dot GEMV: L lanes and R rows per group as for the pairs GEMV, and KC values of x
 * per chunk in workgroup memory (all of K where it fits next to the R x 256 partial sums). Undefined where
 * not even one unit per lane fits.
 */
function int8GemvShape(ctx: GpuContext, dtype: DType, N: number, K: number, planes: boolean): Int8GemvShape | undefined {
  // The shapes the H200 sweeps chose (bench/README.md, "The decode GEMV's shapes"): 16 lanes x 2 rows; for
  // tall matrices 32 x 8 (Q4_0/Q8_0 encoding x themselves; reading planes, 16 x 2) or 16 x 4 (Q4_K), 8 x 4 for
  // Q4_K with short rows (its units are a quarter of a 256-value super-block); 8 x 2 where N is large and a
  // row's units are not a whole number of 16-lane steps, and 16 x 1 for long rows of a small N.
  const tall = N >= 12288;
  const unitsPerRow = K / 64;
  let [L, R] = [16, 2];
  if (tall && dtype !== 'q4_k' && K >= 4096 && !planes) [L, R] = [32, 8];
  else if (tall && dtype === 'q4_k') [L, R] = K >= 4096 ? [16, 4] : [8, 4];
  else if (N >= 8192 && dtype !== 'q4_k' && unitsPerRow % 16 !== 0) [L, R] = [8, 2];
  else if (!tall && dtype !== 'q4_k' && K >= 4096) [L, R] = [16, 1];
  const o = gemvOverrides(ctx);
  L = o.quantLanes || L;
  R = o.rows || R;
  const budget = ctx.limits.maxComputeWorkgroupStorageSize - 256 * R * 4;
  const fit = Math.floor(budget / INT8_UNIT_BYTES / L) * L;
  const need = Math.ceil(K / 64 / L) * L;
  const units = Math.min(fit, need, o.int8Chunk ? Math.max(L, Math.floor(o.int8Chunk / 64 / L) * L) : need);
  return units >= L ? { L, R, KC: units * 64 } : undefined;
}

/**
 * Shape of the Q4_0/Q8_0 pairs GEMV: L lanes per row group (16 when rows are short), R rows per group (more
 * rows reuse x more; fewer make more workgroups for small N: 8 for large N, fewer for small, bench/README.md),
 * and x in workgroup memory where it fits (K floats, padded to whole lane groups of pairs) next to the R x 256
 * partial sums.
 */
function quantGemvShape(ctx: GpuContext, N: number, K: number): { L: number; R: number; xShared: boolean } {
  const o = gemvOverrides(ctx);
  const L = o.quantLanes || (K / 64 < 32 ? 16 : 32);
  const R = o.rows || (N >= 8192 ? 8 : N >= 2048 ? 4 : 2);
  const xsBytes = Math.ceil(K / 64 / L) * L * 64 * 4;
  const xShared = (o.xShared ?? true) && xsBytes + 256 * R * 4 <= ctx.limits.maxComputeWorkgroupStorageSize;
  return { L, R, xShared };
}

/** A grid of `groups` workgroups along x, folded onto y past the per-dimension limit. */
export function grid2d(ctx: GpuContext, groups: number): [number, number] {
  const max = ctx.kernelOverrides?.maxGridX || ctx.limits.maxComputeWorkgroupsPerDimension;
  const gx = Math.min(groups, max);
  return [gx, Math.ceil(groups / gx)];
}

const chunkOf = (dtype: DType) => (dtypeLayout[dtype].blockElems > 1 ? 32 : 4);

/**
 * Whether the adapter runs shaders on the CPU (SwiftShader): there a workgroup costs about the same whatever its
 * work, so GEMVs take the fewest lanes per row (most rows per workgroup) rather than the most threads.
 */
const cpuAdapter = (ctx: GpuContext) => ctx.adapterInfo.architecture === 'swiftshader';

/**
 * Threads per row: enough threads in all (N * lanes >= 2^18, about a full H100) to keep memory busy, but
 * no more lanes than units in a row; 8 on a CPU adapter. Powers of two from 8 to 256.
 */
function autoLanes(ctx: GpuContext, N: number, units: number): number {
  let lanes = 8;
  if (cpuAdapter(ctx)) return lanes;
  while (lanes < 256 && N * lanes < 1 << 18 && lanes * 2 <= units) lanes *= 2;
  return lanes;
}

/**
 * y[T, N] = x[T, K] · w[N, K]ᵀ (+ bias[N]): x f32 (T = product of its leading dims), w of any weight
 * dtype (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k; K a whole number of blocks), y and bias f32. Tensors may
 * be views at any offset. T <= 4 takes the GEMV path (decode), larger T the tiled one: on integer dot
 * products for Q4_0 / Q8_0 / Q4_K from GEMM_INT8_MIN_T tokens (src/kernels/matmulInt8.ts), else in f32.
 */
export function matmul(ctx: GpuContext, x: Tensor, w: Tensor, y: Tensor, bias?: Tensor, xPlanes?: Tensor): void {
  if (w.shape.length !== 2) throw new InvalidArgumentError(`matmul: weight ${w.label ?? ''} must be [N, K], got [${w.shape}]`);
  const [N, K] = w.shape as [number, number];
  const define = weightDefine[w.dtype];
  if (!define) throw new InvalidArgumentError(`matmul: weight dtype ${w.dtype} is not supported`);
  const { blockElems } = dtypeLayout[w.dtype];
  if (K % blockElems !== 0) {
    throw new InvalidArgumentError(`matmul: K = ${K} is not a multiple of the ${w.dtype} block of ${blockElems}`);
  }
  const wAlign = w.dtype === 'q4_k' || w.dtype === 'f32' ? 4 : 2;
  if (w.offset % wAlign !== 0) throw new InvalidArgumentError(`matmul: ${w.dtype} weights must start at a multiple of ${wAlign} bytes`);
  if (x.dtype !== 'f32' || y.dtype !== 'f32') throw new InvalidArgumentError(`matmul: x and y must be f32, got ${x.dtype} and ${y.dtype}`);
  if (x.shape[x.shape.length - 1] !== K) throw new InvalidArgumentError(`matmul: x [${x.shape}] does not end in K = ${K}`);
  const T = numel(x.shape) / K;
  if (y.shape[y.shape.length - 1] !== N || numel(y.shape) !== T * N) {
    throw new InvalidArgumentError(`matmul: y [${y.shape}] is not [${T}, ${N}]`);
  }
  if (bias && (bias.dtype !== 'f32' || numel(bias.shape) !== N)) {
    throw new InvalidArgumentError(`matmul: bias must be [${N}] f32, got [${bias.shape}] ${bias.dtype}`);
  }
  if (T === 0 || N === 0) return;
  const parts = rowParts(ctx, w);
  if (xPlanes && (xPlanes.dtype !== 'u32' || xPlanesK(xPlanes) !== K)) {
    throw new InvalidArgumentError(`matmul: x planes [${xPlanes.shape}] ${xPlanes.dtype} are not those of K = ${K} (createXPlanes)`);
  }
  const planes = T === 1 ? xPlanes : undefined;
  const rowBytes = tensorBytes(w) / N;
  // A weight larger than one binding runs per row range, each writing its columns of y (row stride N).
  const eachPart = (run: (w: Tensor, y: Tensor, bias: Tensor | undefined) => void) => {
    if (parts.length === 1) return run(w, y, bias);
    for (const { n0, n } of parts) run(ctx.view(w, [n, K], n0 * rowBytes), ctx.view(y, [(T - 1) * N + n], n0 * 4), bias && ctx.view(bias, [n], n0 * 4));
  };
  const fold = (g: number) => grid2d(ctx, g);
  if (T > GEMV_MAX_T && useGemmMatrix(ctx, w, x.offset)) {
    // Prefill on subgroup matrices (tensor cores) where the device has them (src/kernels/matmulSubgroupMatrix.ts).
    return eachPart((wp, yp, bp) => gemmMatrix(ctx, x, T, wp, yp, bp, N, fold));
  }
  if (T > GEMV_MAX_T && useGemmInt8(ctx, w, T, GEMV_MAX_T)) {
    // Prefill on integer dot products (src/kernels/matmulInt8.ts): x quantized once for all row ranges, then
    // multiplied by dot4I8Packed or, when asked, on int8 subgroup matrices (src/kernels/matmulSubgroupMatrixInt8.ts).
    const x8 = quantizeX8(ctx, x, T, K);
    const gemm = useGemmMatrixInt8(ctx, w) ? gemmMatrixInt8 : gemmInt8;
    eachPart((wp, yp, bp) => gemm(ctx, x8, wp, yp, bp, N, fold));
    releaseX8(ctx, x8);
    return;
  }
  eachPart((wp, yp, bp) => matmulRows(ctx, x, wp, yp, bp, T, N, planes));
}

/** The decode GEMV kernel that takes a weight and x binding: integer dot (with its shape) or f32 pairs. */
type QuantGemvPlan = ({ kind: 'int8' } & Int8GemvShape) | { kind: 'pairs' };

/**
 * Which decode GEMV takes this weight and x binding (with `planes`: x is given in planes, which only the
 * integer-dot GEMV reads); undefined: the generic one.
 */
function quantGemvPlan(ctx: GpuContext, w: Tensor, K: number, xByteOffset: number, wByteOffset: number, planes = false): QuantGemvPlan | undefined {
  const o = gemvOverrides(ctx);
  if (o.generic || K % 64 !== 0 || xByteOffset % 16 !== 0 || wByteOffset % 4 !== 0) return undefined;
  const int8 = o.int8 ?? ctx.features.packedDot;
  if (int8 && (w.dtype === 'q4_0' || w.dtype === 'q8_0' || w.dtype === 'q4_k')) {
    const shape = int8GemvShape(ctx, w.dtype, w.shape[0]!, K, planes);
    if (shape) return { kind: 'int8', ...shape };
  }
  if (planes) return undefined;
  if (w.dtype === 'q4_0' || w.dtype === 'q8_0') return { kind: 'pairs' };
  return undefined;
}

/** Weights from which the decode GEMV reads x in planes (gemvReadsPlanes). */
const PLANES_MIN_BYTES = 32 << 20;

/**
 * Whether the decode GEMV of this weight reads x in planes when given them (src/kernels/xPlanes.ts): the
 * integer-dot GEMV of Q4_0 and Q4_K weights of 32 MiB and more, where the norm -> GEMV pair gains from them
 * (bench/README.md, "The decode GEMV's shapes"). The override `planes`: true for every Q4_0/Q8_0/Q4_K weight
 * (tests), false for none.
 */
export function gemvReadsPlanes(ctx: GpuContext, w: Tensor): boolean {
  const K = w.shape[1] ?? 0;
  const o = gemvOverrides(ctx);
  if (o.planes === false || o.generic || !(o.int8 ?? ctx.features.packedDot) || w.shape.length !== 2 || K % 64 !== 0) return false;
  if (o.planes === true) return w.dtype === 'q4_0' || w.dtype === 'q8_0' || w.dtype === 'q4_k';
  return (w.dtype === 'q4_0' || w.dtype === 'q4_k') && tensorBytes(w) >= PLANES_MIN_BYTES;
}

/** The decode hot path; with `siluGlu`, x = silu(gate) * up of [gate | up]. */
function dispatchQuantGemv(
  ctx: GpuContext,
  plan: QuantGemvPlan,
  x: Binding,
  xByteOffset: number,
  w: Tensor,
  wb: { binding: Binding; byteOffset: number },
  yb: { binding: Binding; byteOffset: number },
  bb: { binding: Binding; byteOffset: number } | undefined,
  siluGlu: boolean,
  planes = false,
  fused: GemvFusion = {},
): void {
  const [N, K] = w.shape as [number, number];
  const { blockElems, blockBytes } = dtypeLayout[w.dtype];
  const dtypeDefine = w.dtype === 'q4_0' ? 'Q4_0' : w.dtype === 'q8_0' ? 'Q8_0' : 'Q4_K';
  let shader: string;
  let defines: Record<string, string | number | boolean>;
  let L: number;
  let R: number;
  if (plan.kind === 'int8') {
    ({ L, R } = plan);
    shader = 'matmulGemvInt8';
    // Q4_K super-blocks are 144 bytes: whole vec4s when the weight binding starts 16-byte aligned.
    const W_VEC4 = w.dtype === 'q4_k' && wb.byteOffset % 16 === 0 && (gemvOverrides(ctx).vec4Weights ?? true);
    // x encoded by each workgroup, once (it fits in one chunk) or chunk by chunk; or read in planes.
    const X_PLANES = !!planes;
    const oneChunk = plan.KC >= K;
    defines = {
      [dtypeDefine]: true,
      L,
      R,
      KC: X_PLANES ? K : plan.KC,
      GLU: siluGlu,
      W_VEC4,
      X_PLANES,
      ENCODE_ONCE: !X_PLANES && oneChunk,
      ENCODE_CHUNKS: !X_PLANES && !oneChunk,
      X_NORM: !!fused.norm,
      X_MERGE: !!fused.merge,
      KM: fused.merge ? K / 4 : 1,
      ACCUMULATE: !!fused.accumulate,
    };
  } else {
    const shape = quantGemvShape(ctx, N, K);
    ({ L, R } = shape);
    shader = 'matmulGemvQuant';
    defines = { [dtypeDefine]: true, L, R, X_SHARED: shape.xShared, XS_VEC4: Math.ceil(K / 64 / L) * L * 16, GLU: siluGlu };
  }
  const rowsPerGroup = (256 / L) * R;
  const groups = Math.ceil(N / rowsPerGroup);
  // The integer-dot GEMV strides its workgroups over the blocks of rows: when it encodes x, no more launched
  // than keep the GPU busy, so that each encodes x for several blocks; reading x in planes, one per block
  // (bench/README.md, "The decode GEMV's shapes").
  const cap = gemvOverrides(ctx).maxGroups || (planes ? groups : 1024);
  const launched = plan.kind === 'int8' ? Math.min(groups, cap) : groups;
  const norm = fused.norm;
  const nb = norm && alignedBinding(ctx, norm.weight);
  const pr = params()
    .u32(N)
    .u32(K)
    .u32(bb ? 1 : 0)
    .u32(((K / blockElems) * blockBytes) / 4)
    .u32(wb.byteOffset / 4)
    .u32(xByteOffset / 16)
    .u32(yb.byteOffset / 4)
    .u32(bb ? bb.byteOffset / 4 : 0)
    .u32(groups);
  if (norm)
    pr.f32(norm.eps)
      .f32(norm.weightOffset)
      .u32(nb!.byteOffset / 16);
  const m = fused.merge;
  if (m) pr.u32(m.nChunks).u32(m.mlOffset).u32(m.dv4).u32(m.Dv);
  ctx.dispatch(
    { shader, defines, layout: ['uniform', 'read', 'read', 'read', 'storage', ...(nb ? (['read'] as const) : [])] },
    [x, wb.binding, bb?.binding ?? ctx.unused, yb.binding, ...(nb ? [nb.binding] : [])],
    [...grid2d(ctx, launched), 1],
    pr,
  );
}

/**
 * A decode GEMV's fused neighbours: the RMSNorm of its input (x = rmsNorm(x) * (weight + offset)), the merge of a
 * decode attention's chunks that is its input (x = the attention's output, AttentionOptions.mergeLater), and the
 * residual add of its output (y += W·x).
 */
export interface GemvFusion {
  readonly norm?: { readonly weight: Tensor; readonly eps: number; readonly weightOffset: number };
  readonly merge?: DecodeParts;
  readonly accumulate?: boolean;
}

/**
 * The decode GEMV plan for one token of x with this weight, where the integer-dot GEMV takes it from x in f32 in one
 * chunk (so that a fused norm can see all of x) and the weight fits one binding; else undefined.
 */
function fusablePlan(ctx: GpuContext, w: Tensor, xByteOffset: number, norm: boolean): QuantGemvPlan | undefined {
  if (w.shape.length !== 2 || rowParts(ctx, w).length !== 1) return undefined;
  const K = w.shape[1]!;
  const plan = quantGemvPlan(ctx, w, K, xByteOffset, alignedBinding(ctx, w).byteOffset);
  return plan?.kind === 'int8' && (!norm || plan.KC >= K) ? plan : undefined;
}

/**
 * Whether `matmulFused` takes one token of this weight: the integer-dot GEMV (`norm`: with x in one chunk, so that
 * each workgroup sees all of x, and no x planes).
 */
export function gemvFuses(ctx: GpuContext, w: Tensor, norm: boolean): boolean {
  return !(norm && gemvReadsPlanes(ctx, w)) && fusablePlan(ctx, w, 0, norm) !== undefined;
}

/**
 * Whether `matmulFused` can take its x as a decode attention's unmerged chunks (`merge`): x in one chunk, as for a
 * norm, and workgroup memory for the merged x (K floats) besides the encoded one.
 */
export function gemvMerges(ctx: GpuContext, w: Tensor): boolean {
  const plan = fusablePlan(ctx, w, 0, true);
  if (plan?.kind !== 'int8') return false;
  const K = w.shape[1]!;
  return (plan.KC / 64) * INT8_UNIT_BYTES + 256 * plan.R * 4 + K * 4 <= ctx.limits.maxComputeWorkgroupStorageSize;
}

/**
 * One decode token through the integer-dot GEMV with its neighbours fused (`GemvFusion`): y = W · rmsNorm(x)
 * (+ bias), or y += W · x. x [1, K] f32, y [1, N] f32, the norm weight [K] f32. Throws where `gemvFuses` is false.
 */
export function matmulFused(ctx: GpuContext, x: Tensor, w: Tensor, y: Tensor, bias: Tensor | undefined, fused: GemvFusion): void {
  const N = w.shape[0]!;
  const K = w.shape[1]!;
  const xb = alignedBinding(ctx, x);
  const plan = numel(x.shape) === K ? fusablePlan(ctx, w, xb.byteOffset, !!fused.norm || !!fused.merge) : undefined;
  if (!plan || numel(y.shape) !== N || x.dtype !== 'f32' || y.dtype !== 'f32')
    throw new InvalidArgumentError(`matmulFused: [${x.shape}] x [${w.shape}] ${w.dtype} is not a fusable decode GEMV`);
  if (fused.norm && (fused.norm.weight.dtype !== 'f32' || numel(fused.norm.weight.shape) !== K))
    throw new InvalidArgumentError(`matmulFused: the norm weight must be [${K}] f32`);
  if (bias && (bias.dtype !== 'f32' || numel(bias.shape) !== N)) throw new InvalidArgumentError(`matmulFused: bias must be [${N}] f32`);
  const nb = fused.norm && alignedBinding(ctx, fused.norm.weight);
  if (nb && nb.byteOffset % 16 !== 0) throw new InvalidArgumentError('matmulFused: the norm weight must be 16-byte aligned');
  const m = fused.merge;
  if (m && (fused.norm || m.nH * m.Dv !== K || m.Dv % 32 !== 0 || m.mlStride !== 2 || !gemvMerges(ctx, w)))
    throw new InvalidArgumentError(`matmulFused: the merge of ${m.nH} heads x ${m.Dv} is not this GEMV's x of ${K} (nor with a norm)`);
  dispatchQuantGemv(
    ctx,
    plan,
    m ? { buffer: m.buffer } : xb.binding,
    m ? 0 : xb.byteOffset,
    w,
    alignedBinding(ctx, w),
    alignedBinding(ctx, y),
    bias && alignedBinding(ctx, bias),
    false,
    false,
    fused,
  );
}

/**
 * y[1, N] = (silu(gate) · up) · w[N, K]ᵀ (+ bias) for one token, gateUp [1, 2K] = [gate | up]: the GLU
 * fused into the decode GEMV, one dispatch instead of two. Returns false where the fused path does not
 * apply (not Q4_0/Q8_0/Q4_K, several tokens, a weight past one binding); the caller then runs glu and matmul.
 */
export function matmulSiluGlu(ctx: GpuContext, gateUp: Tensor, w: Tensor, y: Tensor, bias?: Tensor, accumulate = false): boolean {
  const [N, K] = w.shape as [number, number];
  if (gateUp.dtype !== 'f32' || numel(gateUp.shape) !== 2 * K || numel(y.shape) !== N) return false;
  if (rowParts(ctx, w).length !== 1) return false;
  const xb = alignedBinding(ctx, gateUp);
  const wb = alignedBinding(ctx, w);
  const plan = quantGemvPlan(ctx, w, K, xb.byteOffset, wb.byteOffset);
  if (!plan) return false;
  if (accumulate && plan.kind !== 'int8') return false;
  dispatchQuantGemv(ctx, plan, xb.binding, xb.byteOffset, w, wb, alignedBinding(ctx, y), bias && alignedBinding(ctx, bias), true, false, { accumulate });
  return true;
}

/** matmul over rows of W that fit one binding; y rows are yStride apart. */
function matmulRows(ctx: GpuContext, x: Tensor, w: Tensor, y: Tensor, bias: Tensor | undefined, T: number, yStride: number, xPlanes?: Tensor): void {
  const [N, K] = w.shape as [number, number];
  const define = weightDefine[w.dtype]!;
  const { blockElems, blockBytes } = dtypeLayout[w.dtype];
  const xb = alignedBinding(ctx, x);
  const wb = alignedBinding(ctx, w);
  const yb = alignedBinding(ctx, y);
  const bb = bias ? alignedBinding(ctx, bias) : undefined;
  const xVec4 = K % 4 === 0 && xb.byteOffset % 16 === 0;
  const chunk = chunkOf(w.dtype);
  const defines: Record<string, string | number | boolean> = { [define]: true, X_VEC4: xVec4 };
  let entry: string;
  let groups: number;
  let grid: [number, number, number];
  if (xPlanes && gemvReadsPlanes(ctx, w)) {
    // x in planes (written by the norm before this GEMV) where the integer-dot GEMV runs.
    const pb = alignedBinding(ctx, xPlanes);
    const plan = quantGemvPlan(ctx, w, K, pb.byteOffset, wb.byteOffset, true);
    if (plan) {
      dispatchQuantGemv(ctx, plan, pb.binding, pb.byteOffset, w, wb, yb, bb, false, true);
      return;
    }
  }
  const plan = T === 1 ? quantGemvPlan(ctx, w, K, xb.byteOffset, wb.byteOffset) : undefined;
  if (plan) {
    dispatchQuantGemv(ctx, plan, xb.binding, xb.byteOffset, w, wb, yb, bb, false);
    return;
  }
  if (T <= GEMV_MAX_T) {
    const lanes = gemvOverrides(ctx).lanes || autoLanes(ctx, N, Math.ceil(K / chunk));
    Object.assign(defines, { GEMV: true, LANES: lanes, TT: T, W_CHUNK_MASK: K % chunk !== 0 });
    entry = 'gemv';
    groups = Math.ceil(N / (256 / lanes));
    grid = [...grid2d(ctx, groups), 1];
  } else {
    defines.TILED = true;
    entry = 'tiled';
    groups = Math.ceil(N / 64);
    grid = [...grid2d(ctx, groups), Math.ceil(T / 64)];
  }
  ctx.dispatch(
    { shader: 'matmul', entry, defines, layout: ['uniform', 'read', 'read', 'read', 'storage'] },
    [xb.binding, wb.binding, bb?.binding ?? ctx.unused, yb.binding],
    grid,
    params()
      .u32(T)
      .u32(N)
      .u32(K)
      .u32(bias ? 1 : 0)
      .u32((K / blockElems) * blockBytes)
      .u32(wb.byteOffset)
      .u32(xb.byteOffset / 4)
      .u32(yb.byteOffset / 4)
      .u32(bb ? bb.byteOffset / 4 : 0)
      .u32(groups)
      .u32(yStride),
  );
}
