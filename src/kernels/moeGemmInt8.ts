import { InvalidArgumentError } from '../errors.js';
import type { Binding, GpuContext } from '../gpu/context.js';
import type { GemmTile } from '../gpu/kernelOverrides.js';
import { params } from '../gpu/params.js';
import { dtypeLayout, type DType, type Tensor } from '../gpu/tensor.js';
import { alignedBinding } from './binding.js';
import { GEMM_INT8_DTYPES, GEMM_INT8_TILE, gemmTileName, gemmTileProblem, quantizeX8, releaseX8, x8Bytes, type X8 } from './matmulInt8.js';
import type { MoeActivation, MoeExpertWeights } from './moeTypes.js';

// MoE prefill experts as grouped GEMMs on integer dot products (shaders/moeGemmInt8.wgsl, its K loop the
// int8 tile of shaders/matmulInt8Tile.wgsl that matmulInt8's GEMM also runs): per expert, the pairs moeBucket
// listed for it are gathered as the rows of a GEMM against its gate|up rows (activation in the epilogue),
// then the activations, quantized per pair row, against its down rows (weighted by the routing weight, into
// the per-pair outputs that moeBucket's combine sums). Each x row is quantized once per token (matmulInt8's
// entry quantize), however many experts read it. Other dtypes keep moeGateUp / moeDown `grouped` (f32); the
// two halves choose independently (both read and write act [T*K, I] f32).
//
// Precision: as matmulInt8 (the only approximation is the int8 activations, within s / 2 per value, s =
// max|x of its block| / 127); the gate|up errors pass through the activation into act, which is quantized
// again for down (test/unit/moeGemmInt8.test.ts composes the bound).

/** Fewest tokens for which a MoE layer's experts take the integer-dot grouped GEMMs (as GEMM_INT8_MIN_T). */
export const MOE_GEMM_INT8_MIN_T = 16;

/**
 * Whether the grouped GEMMs run over a compacted work list of (expert, row tile) items, dispatched
 * indirectly (shaders/moeTiles.wgsl; one more dispatch, no workgroup for empty experts or tiles), rather
 * than a grid of ceil(T / BM) row tiles for every expert whose tiles past the expert's count exit at once.
 */
export const MOE_GEMM_INT8_WORKLIST = true;

/** The tile of the grouped GEMMs: matmulInt8's (not yet swept for MoE shapes: kernelLab --gemm --moe). */
export const MOE_GEMM_INT8_TILE: GemmTile = GEMM_INT8_TILE;

/** The tile of the grouped GEMMs: the override's (ctx.kernelOverrides.moeGemm.tile: kernelLab, tests), else MOE_GEMM_INT8_TILE. */
export const moeGemmInt8Tile = (ctx: GpuContext): GemmTile => ctx.kernelOverrides?.moeGemm?.tile ?? MOE_GEMM_INT8_TILE;

/** Whether an expert matmul of this dtype and row length K runs on integer dot products here. */
function fits(ctx: GpuContext, dtype: DType, K: number): boolean {
  if (!GEMM_INT8_DTYPES.includes(dtype) || K % (dtype === 'q4_k' ? 256 : 32) !== 0) return false;
  return !gemmTileProblem(ctx, moeGemmInt8Tile(ctx), dtype);
}

/**
 * Which halves of moeExperts' grouped path (T tokens) take the integer-dot GEMMs: the packed dot product
 * available, at least MOE_GEMM_INT8_MIN_T tokens (the override ctx.kernelOverrides.moeGemm.use: true any T, false none), and per half
 * a Q4_0 / Q8_0 / Q4_K weight whose rows are whole blocks (H for gate|up, I for down).
 */
export function moeInt8Plan(ctx: GpuContext, experts: MoeExpertWeights, T: number): { gateUp: boolean; down: boolean } {
  const [, I2, H] = experts.gateUp.shape as [number, number, number];
  const use = ctx.kernelOverrides?.moeGemm?.use;
  const on = ctx.features.packedDot && use !== false && (use === true || T >= MOE_GEMM_INT8_MIN_T);
  return { gateUp: on && fits(ctx, experts.gateUp.dtype, H), down: on && fits(ctx, experts.down.dtype, I2 / 2) };
}

const LAYOUT = ['uniform', 'read', 'read', 'read', 'storage', 'read', 'read', 'read', 'read'] as const;

/** The work list of one moeExperts call (moeInt8Work): items (expert, row tile) and the two indirect grids. */
export interface MoeInt8Work {
  readonly work: GPUBuffer;
  readonly grids: GPUBuffer;
}

/**
 * The (expert, row tile) items of the grouped GEMMs from moeBucket's counts, and their indirect grids, on the
 * GPU (shaders/moeTiles.wgsl); undefined where the grid of every expert's row tiles is used instead
 * (MOE_GEMM_INT8_WORKLIST or the override ctx.kernelOverrides.moeGemm.worklist false, or more items than a grid dimension holds). Release
 * with releaseMoeInt8Work.
 */
export function moeInt8Work(ctx: GpuContext, counts: Binding, E: number, T: number, k: number, I: number, H: number): MoeInt8Work | undefined {
  if (!(ctx.kernelOverrides?.moeGemm?.worklist ?? MOE_GEMM_INT8_WORKLIST)) return undefined;
  const tile = moeGemmInt8Tile(ctx);
  const items = Math.ceil((T * k) / tile.BM) + E; // Σ_e ceil(c_e / BM) <= Σ_e (c_e / BM + 1)
  if (items > ctx.limits.maxComputeWorkgroupsPerDimension) return undefined;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const work = ctx.pool.acquire(items * 8, usage, 'moe.work');
  const grids = ctx.pool.acquire(32, usage | GPUBufferUsage.INDIRECT, 'moe.grids');
  ctx.dispatch(
    { shader: 'moeTiles', entry: 'tiles', layout: ['uniform', 'read', 'storage', 'storage'] },
    [counts, { buffer: work, offset: 0, size: items * 8 }, { buffer: grids, offset: 0, size: 32 }],
    [1],
    params()
      .u32(E)
      .u32(tile.BM)
      .u32(Math.ceil(I / (tile.BN / 2)))
      .u32(Math.ceil(H / tile.BN)),
  );
  return { work, grids };
}

export function releaseMoeInt8Work(ctx: GpuContext, w: MoeInt8Work | undefined): void {
  if (!w) return;
  ctx.pool.release(w.work);
  ctx.pool.release(w.grids);
}

function define(dtype: DType): string {
  return dtype === 'q4_0' ? 'W_Q4_0' : dtype === 'q8_0' ? 'W_Q8_0' : 'W_Q4_K';
}

function grouped(
  ctx: GpuContext,
  half: 'gateUp' | 'down',
  x8: X8,
  w: Tensor,
  bias: Tensor | undefined,
  out: Binding,
  counts: Binding,
  list: Binding,
  rw: Binding,
  T: number,
  k: number,
  N: number,
  actDefs: Record<string, boolean>,
  clamp: { limit: number; alpha: number } | undefined,
  work: MoeInt8Work | undefined,
): void {
  const E = w.shape[0]!;
  const K = x8.K;
  const tile = moeGemmInt8Tile(ctx);
  const problem = gemmTileProblem(ctx, tile, w.dtype);
  if (problem) throw new InvalidArgumentError(`moeExperts int8: tile ${gemmTileName(tile)}: ${problem}`);
  const wb = alignedBinding(ctx, w);
  const bb = bias && alignedBinding(ctx, bias);
  const { blockElems, blockBytes } = dtypeLayout[w.dtype];
  const cols = half === 'gateUp' ? tile.BN / 2 : tile.BN;
  const key = {
    shader: 'moeGemmInt8',
    entry: 'gemm',
    defines: {
      [define(w.dtype)]: true,
      GATE_UP: half === 'gateUp',
      WORKLIST: !!work,
      ...actDefs,
      BM: tile.BM,
      BN: tile.BN,
      TM: tile.TM,
      TNV: tile.TN / 4,
      KB: tile.KB,
      PREFETCH: !!tile.prefetch,
    },
    layout: LAYOUT,
  };
  const bindings = [
    { buffer: x8.buffer, offset: 0, size: x8Bytes(x8.T, K) },
    wb.binding,
    bb?.binding ?? ctx.unused,
    out,
    counts,
    list,
    rw,
    work?.work ?? ctx.unused,
  ];
  const prm = params()
    .u32(K)
    .u32(N)
    .u32(k)
    .u32((K / blockElems) * blockBytes)
    .u32(wb.byteOffset)
    .u32(bb ? 1 : 0)
    .u32(bb ? bb.byteOffset / 4 : 0)
    .u32(T)
    .u32(0)
    .u32((x8.T * K) / 16)
    .f32(clamp?.limit ?? 0)
    .f32(clamp?.alpha ?? 0);
  if (work) ctx.dispatchIndirect(key, bindings, work.grids, half === 'gateUp' ? 0 : 12, prm);
  else ctx.dispatch(key, bindings, [Math.ceil(N / cols), Math.ceil(T / tile.BM), E], prm);
}

/**
 * act[pair, I] = act_fn(gate_e · x_t + b) * (up_e · x_t + b) for every pair = t*k + j of expert e = ids[t, j],
 * from moeBucket's counts [E] and list [E, T]; x [T, H] f32 (any view), quantized here once per token.
 */
export function moeGateUpInt8(
  ctx: GpuContext,
  x: Tensor,
  counts: Binding,
  list: Binding,
  experts: MoeExpertWeights,
  act: Binding,
  T: number,
  k: number,
  fn: MoeActivation,
  clamp?: { limit: number; alpha: number },
  work?: MoeInt8Work,
): void {
  const [, I2, H] = experts.gateUp.shape as [number, number, number];
  const x8 = quantizeX8(ctx, x, T, H);
  const actDefs = { ACT_GELU: fn === 'gelu_tanh', ACT_CLAMP: !!clamp };
  grouped(ctx, 'gateUp', x8, experts.gateUp, experts.gateUpBias, act, counts, list, ctx.unused, T, k, I2 / 2, actDefs, clamp, work);
  releaseX8(ctx, x8);
}

/**
 * ypairs[pair, H] = weights[pair] · (down_e · act[pair] + b) for every listed pair; act [T*k, I] f32 (as
 * moeGateUp or moeGateUpInt8 write it), quantized here per pair row.
 */
export function moeDownInt8(
  ctx: GpuContext,
  act: { readonly buffer: GPUBuffer },
  counts: Binding,
  list: Binding,
  weights: Tensor,
  experts: MoeExpertWeights,
  ypairs: Binding,
  T: number,
  k: number,
  work?: MoeInt8Work,
): void {
  const [, H, I] = experts.down.shape as [number, number, number];
  const actT: Tensor = { buffer: act.buffer, offset: 0, shape: [T * k, I], dtype: 'f32' };
  const x8 = quantizeX8(ctx, actT, T * k, I);
  grouped(ctx, 'down', x8, experts.down, experts.downBias, ypairs, counts, list, weights, T, k, H, {}, undefined, work);
  releaseX8(ctx, x8);
}
