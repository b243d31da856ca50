import type { GpuContext } from '../gpu/context.js';
import type { SubgroupMatrixTile } from '../gpu/kernelOverrides.js';
import { subgroupTileFits } from '../gpu/subgroupMatrix.js';
import { params } from '../gpu/params.js';
import { dtypeLayout, type Tensor } from '../gpu/tensor.js';
import { alignedBinding } from './binding.js';
import { weightDefine } from './weights.js';

// The prefill matmul on subgroup matrices (shaders/matmulSubgroupMatrix.wgsl): f16 tiles of x and of the
// dequantized weights in workgroup memory, multiplied on the adapter's f16 -> f32 subgroup-matrix config
// (tensor cores). Only where the device has the feature (ctx.features.subgroupMatrix, src/gpu/device.ts)
// and, until its first check on such a GPU (bench/subgroupMatrixLab.ts: no adapter with the feature has run
// it yet), only when ctx.kernelOverrides.gemmMatrix.use asks for it; the integer-dot and f32 GEMMs are the
// path everywhere else.

/** 2 x 2 subgroups, each 2 x 2 result matrices: 64 x 64 outputs per workgroup on 16 x 16 configs. */
export const GEMM_MATRIX_TILE: SubgroupMatrixTile = { TMS: 2, TNS: 2, SGY: 2, SGX: 2, pad: 8 };

export const gemmMatrixTileName = (t: SubgroupMatrixTile) => `sg${t.SGY}x${t.SGX}m${t.TMS}x${t.TNS}p${t.pad}`;

function tileOf(ctx: GpuContext): SubgroupMatrixTile {
  return ctx.kernelOverrides?.gemmMatrix?.tile ?? GEMM_MATRIX_TILE;
}

/**
 * Whether matmul takes the subgroup-matrix GEMM for x [., K] (at byte offset xByteOffset) against w: asked
 * for (ctx.kernelOverrides.gemmMatrix.use), the device has the feature, w is a dtype shaders/weights.wgsl
 * reads with K a multiple of the K step of 32 (matmul has checked whole blocks and the weight's alignment),
 * x is 16-byte aligned, and the tile fits the device's workgroup limits.
 */
export function useGemmMatrix(ctx: GpuContext, w: Tensor, xByteOffset: number): boolean {
  const shape = ctx.features.subgroupMatrix;
  const use = ctx.kernelOverrides?.gemmMatrix?.use;
  if (!shape || use !== true || !weightDefine[w.dtype] || w.shape.length !== 2) return false;
  const K = w.shape[1]!;
  if (K % 32 !== 0 || xByteOffset % 16 !== 0) return false;
  const t = tileOf(ctx);
  const bm = shape.M * t.TMS * t.SGY;
  const bn = shape.N * t.TNS * t.SGX;
  return subgroupTileFits(ctx.limits, shape, t, (bm + bn) * (32 + t.pad) * 2 + shape.M * shape.N * t.SGY * t.SGX * 4);
}

/**
 * y[t, n] (row stride yStride) = x[t] · w[n]ᵀ (+ bias[n]) for the N rows of w (one binding's worth), x f32
 * [T, K]; `grid2d` folds the n tiles past the per-dimension limit. Call after useGemmMatrix said yes.
 */
export function gemmMatrix(
  ctx: GpuContext,
  x: Tensor,
  T: number,
  w: Tensor,
  y: Tensor,
  bias: Tensor | undefined,
  yStride: number,
  grid2d: (groups: number) => [number, number],
): void {
  const shape = ctx.features.subgroupMatrix!;
  const t = tileOf(ctx);
  const [N, K] = w.shape as [number, number];
  const xb = alignedBinding(ctx, x);
  const wb = alignedBinding(ctx, w);
  const yb = alignedBinding(ctx, y);
  const bb = bias ? alignedBinding(ctx, bias) : undefined;
  const bm = shape.M * t.TMS * t.SGY;
  const groups = Math.ceil(N / (shape.N * t.TNS * t.SGX));
  const { blockElems, blockBytes } = dtypeLayout[w.dtype];
  ctx.dispatch(
    {
      shader: 'matmulSubgroupMatrix',
      entry: 'gemm',
      defines: {
        [weightDefine[w.dtype]!]: true,
        CM: shape.M,
        CN: shape.N,
        CK: shape.K,
        SG: shape.subgroupSize,
        TMS: t.TMS,
        TNS: t.TNS,
        SGY: t.SGY,
        SGX: t.SGX,
        PAD: t.pad,
      },
      layout: ['uniform', 'read', 'read', 'read', 'storage'],
    },
    [xb.binding, wb.binding, bb?.binding ?? ctx.unused, yb.binding],
    [...grid2d(groups), Math.ceil(T / bm)],
    params()
      .u32(T)
      .u32(N)
      .u32(K)
      .u32(bias ? 1 : 0)
      .u32((K / blockElems) * blockBytes)
      .u32(wb.byteOffset)
      .u32(xb.byteOffset / 16)
      .u32(yb.byteOffset / 4)
      .u32(bb ? bb.byteOffset / 4 : 0)
      .u32(groups)
      .u32(yStride),
  );
}
