import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { GemmTile } from '../gpu/kernelOverrides.js';
import { params } from '../gpu/params.js';
import { dtypeLayout, type DType, type Tensor } from '../gpu/tensor.js';
import { alignedBinding } from './binding.js';

// The prefill matmul on integer dot products (shaders/matmulInt8.wgsl): x quantized to int8 per row and
// block of 32 (entry quantize), then a register-tiled GEMM of dot4I8Packed against the stored Q4_0 / Q8_0 /
// Q4_K quants (entry gemm).

/** Fewest tokens for which matmul takes the integer-dot GEMM (below: the GEMV up to GEMV_MAX_T, then the f32 tiled GEMM). */
export const GEMM_INT8_MIN_T = 16;

/**
 * The tile (GemmTile, src/gpu/kernelOverrides.ts) matmul uses: 64 x 64 outputs per workgroup of 128 threads,
 * 8 x 4 per thread, two blocks of 32 per K step: the H200 sweep's choice (bench/README.md, kernelLab --gemm).
 */
export const GEMM_INT8_TILE: GemmTile = { BM: 64, BN: 64, TM: 8, TN: 4, KB: 2 };

/** The tile of a GEMM: the override's (ctx.kernelOverrides.gemm.tile: kernelLab, tests), else GEMM_INT8_TILE. */
export function gemmInt8Tile(ctx: GpuContext): GemmTile {
  return ctx.kernelOverrides?.gemm?.tile ?? GEMM_INT8_TILE;
}

/** Weight dtypes the integer-dot GEMM reads. */
export const GEMM_INT8_DTYPES: readonly DType[] = ['q4_0', 'q8_0', 'q4_k'];

/** "64x128t8x4k2": BM x BN, then t TM x TN, then k KB; a trailing p: prefetch. */
export function parseGemmTile(s: string): GemmTile {
  const m = /^(\d+)x(\d+)t(\d+)x(\d+)k(\d+)(p?)$/.exec(s);
  if (!m) throw new InvalidArgumentError(`GEMM tile "${s}" is not BMxBNtTMxTNkKB[p] (e.g. 64x128t8x4k2p)`);
  const [BM, BN, TM, TN, KB] = m.slice(1, 6).map(Number) as [number, number, number, number, number];
  return { BM, BN, TM, TN, KB, prefetch: m[6] === 'p' };
}

export const gemmTileName = (t: GemmTile) => `${t.BM}x${t.BN}t${t.TM}x${t.TN}k${t.KB}${t.prefetch ? 'p' : ''}`;

/** Workgroup memory of a tile (bytes): int8 words of both operands and their per-block scales. */
export function gemmTileBytes(t: GemmTile, dtype: DType): number {
  const words = 8 * t.KB * (t.BM + t.BN);
  const scales = t.KB * (t.BM + t.BN) * (dtype === 'q4_k' ? 2 : 1);
  return 4 * (words + scales);
}

/** Why this device cannot run a tile, or undefined. */
export function gemmTileProblem(ctx: GpuContext, t: GemmTile, dtype: DType): string | undefined {
  if (t.TM % 4 !== 0 || t.TN % 4 !== 0 || t.BM % t.TM !== 0 || t.BN % t.TN !== 0 || t.KB < 1) return 'TM, TN must be multiples of 4 dividing BM, BN';
  const threads = (t.BM / t.TM) * (t.BN / t.TN);
  if (threads > ctx.limits.maxComputeInvocationsPerWorkgroup) return `${threads} threads exceed ${ctx.limits.maxComputeInvocationsPerWorkgroup}`;
  if (threads > ctx.limits.maxComputeWorkgroupSizeX) return `${threads} threads exceed maxComputeWorkgroupSizeX`;
  const bytes = gemmTileBytes(t, dtype);
  if (bytes > ctx.limits.maxComputeWorkgroupStorageSize) return `${bytes} bytes of workgroup memory exceed ${ctx.limits.maxComputeWorkgroupStorageSize}`;
  return undefined;
}

/**
 * Whether matmul of T tokens against weight w takes the integer-dot GEMM: Q4_0 / Q8_0 / Q4_K, K a whole
 * number of blocks, the packed dot product available, at least GEMM_INT8_MIN_T tokens, and a tile that fits
 * the device. The override ctx.kernelOverrides.gemm.use: true takes any T past the GEMV, false none.
 */
export function useGemmInt8(ctx: GpuContext, w: Tensor, T: number, gemvMaxT: number): boolean {
  if (!GEMM_INT8_DTYPES.includes(w.dtype) || w.shape.length !== 2) return false;
  const K = w.shape[1]!;
  if (K % (w.dtype === 'q4_k' ? 256 : 32) !== 0) return false;
  const use = ctx.kernelOverrides?.gemm?.use;
  if (use === false || !ctx.features.packedDot) return false;
  if (T < (use ? gemvMaxT + 1 : GEMM_INT8_MIN_T)) return false;
  return !gemmTileProblem(ctx, gemmInt8Tile(ctx), w.dtype);
}

/** x quantized to int8 for the GEMM (entry quantize): a pooled buffer of T * K * 1.125 bytes. */
export interface X8 {
  readonly buffer: GPUBuffer;
  readonly T: number;
  readonly K: number;
}

/** Bytes of the x8 layout of T rows of K values: one byte per value and 8 bytes per block of 32, rounded up to whole vec4s. */
export const x8Bytes = (T: number, K: number) => Math.ceil((T * K + (T * K) / 4) / 16) * 16;

/** x [T, K] f32 (K a multiple of 32, a view at any 4-byte offset) to int8 per block of 32, in a pooled buffer (release with releaseX8). */
export function quantizeX8(ctx: GpuContext, x: Tensor, T: number, K: number): X8 {
  if (K % 32 !== 0) throw new InvalidArgumentError(`quantizeX8: K = ${K} is not a multiple of 32`);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buffer = ctx.pool.acquire(x8Bytes(T, K), usage, 'matmul.x8');
  const xb = alignedBinding(ctx, x);
  const xVec4 = xb.byteOffset % 16 === 0;
  const blocks = (T * K) / 32;
  const gx = Math.min(Math.ceil(blocks / 256), ctx.limits.maxComputeWorkgroupsPerDimension);
  ctx.dispatch(
    { shader: 'matmulInt8', entry: 'quantize', defines: { QUANTIZE: true, X_VEC4: xVec4 }, layout: ['uniform', 'read', 'storage'] },
    [xb.binding, { buffer, offset: 0, size: x8Bytes(T, K) }],
    [gx, Math.ceil(Math.ceil(blocks / 256) / gx), 1],
    params()
      .u32(T)
      .u32(K)
      .u32(xb.byteOffset / 4)
      .u32(0),
  );
  return { buffer, T, K };
}

export function releaseX8(ctx: GpuContext, x8: X8): void {
  ctx.pool.release(x8.buffer);
}

/**
 * y[t, n] (row stride yStride) = x8[t] · w[n]ᵀ (+ bias[n]) for the N rows of w (one binding's worth), x8
 * from quantizeX8; `grid2d` folds the n tiles past the per-dimension limit.
 */
export function gemmInt8(
  ctx: GpuContext,
  x8: X8,
  w: Tensor,
  y: Tensor,
  bias: Tensor | undefined,
  yStride: number,
  grid2d: (groups: number) => [number, number],
): void {
  const N = w.shape[0]!;
  const tile = gemmInt8Tile(ctx);
  const problem = gemmTileProblem(ctx, tile, w.dtype);
  if (problem) throw new InvalidArgumentError(`gemmInt8: tile ${gemmTileName(tile)}: ${problem}`);
  const groups = Math.ceil(N / tile.BN);
  const g = int8GemmBindings(ctx, x8, w, y, bias, groups, yStride);
  ctx.dispatch(
    {
      shader: 'matmulInt8',
      entry: 'gemm',
      defines: { GEMM: true, [g.define]: true, BM: tile.BM, BN: tile.BN, TM: tile.TM, TNV: tile.TN / 4, KB: tile.KB, PREFETCH: !!tile.prefetch },
      layout: g.layout,
    },
    g.bindings,
    [...grid2d(groups), Math.ceil(x8.T / tile.BM)],
    g.params,
  );
}

/**
 * The layout, bindings (x8, w, bias, y), weight define and Params of a GEMM on x8 against Q4_0 / Q8_0 / Q4_K
 * weights (shaders/int8GemmBindings.wgsl): matmulInt8's `gemm` and the int8 subgroup-matrix GEMM share them.
 */
export function int8GemmBindings(ctx: GpuContext, x8: X8, w: Tensor, y: Tensor, bias: Tensor | undefined, groups: number, yStride: number) {
  const [N, K] = w.shape as [number, number];
  const { T } = x8;
  if (K !== x8.K) throw new InvalidArgumentError(`int8 GEMM: x8 of K = ${x8.K} against a weight of K = ${K}`);
  const wb = alignedBinding(ctx, w);
  const yb = alignedBinding(ctx, y);
  const bb = bias ? alignedBinding(ctx, bias) : undefined;
  const { blockElems, blockBytes } = dtypeLayout[w.dtype];
  return {
    layout: ['uniform', 'read', 'read', 'read', 'storage'] as const,
    define: w.dtype === 'q4_0' ? 'W_Q4_0' : w.dtype === 'q8_0' ? 'W_Q8_0' : 'W_Q4_K',
    bindings: [{ buffer: x8.buffer, offset: 0, size: x8Bytes(T, K) }, wb.binding, bb?.binding ?? ctx.unused, yb.binding],
    params: params()
      .u32(T)
      .u32(N)
      .u32(K)
      .u32(bias ? 1 : 0)
      .u32((K / blockElems) * blockBytes)
      .u32(wb.byteOffset)
      .u32(0)
      .u32((T * K) / 16)
      .u32(yb.byteOffset / 4)
      .u32(bb ? bb.byteOffset / 4 : 0)
      .u32(groups)
      .u32(yStride),
  };
}
