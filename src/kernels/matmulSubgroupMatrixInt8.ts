import type { GpuContext } from '../gpu/context.js';
import type { SubgroupMatrixInt8Tile } from '../gpu/kernelOverrides.js';
import { subgroupTileFits } from '../gpu/subgroupMatrix.js';
import type { Tensor } from '../gpu/tensor.js';
import { int8GemmBindings, type X8 } from './matmulInt8.js';

// The prefill matmul on int8 subgroup matrices (shaders/matmulSubgroupMatrixInt8.wgsl: tensor cores): x
// quantized to int8 as for the integer-dot GEMM (matmulInt8's quantizeX8), the Q4_0 / Q8_0 / Q4_K quants
// staged as int8, each block of 32 multiplied on the adapter's i8 x i8 -> i32 config and scaled in f32. It is
// exact to the integer-dot GEMM (the same products and sums in the same order) but, measured on the H200
// (bench/README.md, subgroupMatrixLab), 1.6-2.6x slower than it: WGSL's result matrices are opaque, so each
// block's dot products go through workgroup memory, two barriers apart, before their scales apply. So matmul
// takes it only when ctx.kernelOverrides.gemmMatrixInt8.use asks, on devices with the config
// (ctx.features.subgroupMatrixInt8: Dawn's allow_unsafe_apis).

/** 2 x 2 subgroups, each 2 x 2 result matrices (64 x 64 outputs on 16 x 16 configs), 2 blocks per K step. */
export const GEMM_MATRIX_INT8_TILE: SubgroupMatrixInt8Tile = { TMS: 2, TNS: 2, SGY: 2, SGX: 2, KB: 2, pad: 4 };

export const gemmMatrixInt8TileName = (t: SubgroupMatrixInt8Tile) => `sg${t.SGY}x${t.SGX}m${t.TMS}x${t.TNS}k${t.KB}p${t.pad}`;

/** "sg2x2m2x2k2p4": subgroups SGY x SGX, result matrices TMS x TNS each, KB blocks per step, pad words. */
export function parseGemmMatrixInt8Tile(s: string): SubgroupMatrixInt8Tile | undefined {
  const m = /^sg(\d+)x(\d+)m(\d+)x(\d+)k(\d+)p(\d+)$/.exec(s);
  if (!m) return undefined;
  const [SGY, SGX, TMS, TNS, KB, pad] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return { SGY, SGX, TMS, TNS, KB, pad };
}

function tileOf(ctx: GpuContext): SubgroupMatrixInt8Tile {
  return ctx.kernelOverrides?.gemmMatrixInt8?.tile ?? GEMM_MATRIX_INT8_TILE;
}

/** Workgroup memory of a tile (bytes): both operands' int8 words, their scales, one block's dot products per subgroup. */
export function gemmMatrixInt8Bytes(t: SubgroupMatrixInt8Tile, M: number, N: number, q4k: boolean): number {
  const bm = M * t.TMS * t.SGY;
  const bn = N * t.TNS * t.SGX;
  const rowWords = 8 * t.KB + t.pad;
  const scales = t.KB * (bm + bn) * (q4k ? 2 : 1);
  const dots = t.SGY * t.SGX * t.TMS * t.TNS * M * N;
  return 4 * ((bm + bn) * rowWords + scales + dots + 1);
}

/**
 * Whether matmul's integer-dot prefill (x8 already chosen: a Q4_0 / Q8_0 / Q4_K weight of whole blocks) runs
 * on the int8 subgroup matrices: asked for, the device has the config, and the tile fits the device's
 * workgroup limits.
 */
export function useGemmMatrixInt8(ctx: GpuContext, w: Tensor): boolean {
  const shape = ctx.features.subgroupMatrixInt8;
  if (!shape || ctx.kernelOverrides?.gemmMatrixInt8?.use !== true) return false;
  const t = tileOf(ctx);
  return subgroupTileFits(ctx.limits, shape, t, gemmMatrixInt8Bytes(t, shape.M, shape.N, w.dtype === 'q4_k'));
}

/**
 * y[t, n] (row stride yStride) = x8[t] · w[n]ᵀ (+ bias[n]) for the N rows of w (one binding's worth), x8 from
 * quantizeX8; `grid2d` folds the n tiles past the per-dimension limit. Call after useGemmMatrixInt8 said yes.
 */
export function gemmMatrixInt8(
  ctx: GpuContext,
  x8: X8,
  w: Tensor,
  y: Tensor,
  bias: Tensor | undefined,
  yStride: number,
  grid2d: (groups: number) => [number, number],
): void {
  const shape = ctx.features.subgroupMatrixInt8!;
  const t = tileOf(ctx);
  const N = w.shape[0]!;
  const bm = shape.M * t.TMS * t.SGY;
  const groups = Math.ceil(N / (shape.N * t.TNS * t.SGX));
  const g = int8GemmBindings(ctx, x8, w, y, bias, groups, yStride);
  ctx.dispatch(
    {
      shader: 'matmulSubgroupMatrixInt8',
      entry: 'gemm',
      defines: {
        [g.define]: true,
        CM: shape.M,
        CN: shape.N,
        CK: shape.K,
        SG: shape.subgroupSize,
        TMS: t.TMS,
        TNS: t.TNS,
        SGY: t.SGY,
        SGX: t.SGX,
        KB: t.KB,
        PADW: t.pad,
      },
      layout: g.layout,
    },
    g.bindings,
    [...grid2d(groups), Math.ceil(x8.T / bm)],
    g.params,
  );
}
