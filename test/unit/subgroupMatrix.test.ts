import { describe, expect, it } from 'vitest';
import { chooseSubgroupMatrix, chooseSubgroupMatrixInt8, type AdapterMatrixConfig } from '../../src/gpu/subgroupMatrix.js';
import { matmul } from '../../src/kernels/matmul.js';
import { matmulAbsScale, matmulRef } from '../../src/kernels/ref/matmul.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import { gpu } from '../helpers/gpu.js';
import { randomF32 } from '../helpers/random.js';

const f16 = (M: number, N: number, K: number, result = 'f32'): AdapterMatrixConfig => ({ componentType: 'f16', resultComponentType: result, M, N, K });
const i8 = (M: number, N: number, K: number, component = 'i8', result = 'i32'): AdapterMatrixConfig => ({
  componentType: component,
  resultComponentType: result,
  M,
  N,
  K,
});

describe('subgroup matrices (chromium-experimental-subgroup-matrix)', () => {
  it('builds on the largest f16 -> f32 config whose K divides a block of 32, and on none without one', () => {
    // Lists of the kinds drivers report: several f16 shapes and result types beside integer ones.
    const nvidia = [f16(16, 8, 16), f16(16, 16, 16), f16(16, 16, 16, 'f16'), { componentType: 'i8', resultComponentType: 'i32', M: 16, N: 16, K: 32 }];
    expect(chooseSubgroupMatrix(nvidia, 32)).toEqual({ M: 16, N: 16, K: 16, subgroupSize: 32 });
    expect(chooseSubgroupMatrix([f16(8, 8, 8)], 32)).toEqual({ M: 8, N: 8, K: 8, subgroupSize: 32 });
    expect(chooseSubgroupMatrix([f16(16, 16, 16, 'f16'), f16(16, 16, 24)], 32)).toBeUndefined();
    expect(chooseSubgroupMatrix([f16(64, 64, 16)], 32)).toBeUndefined();
    expect(chooseSubgroupMatrix(nvidia, undefined)).toBeUndefined();
    expect(chooseSubgroupMatrix([], 32)).toBeUndefined();
  });

  it('builds the int8 GEMM on the largest i8 -> i32 config of K 32 where the subgroup size is fixed, and on none otherwise', () => {
    // What the H200's Dawn reports with allow_unsafe_apis (bench/results/2026-12-02-subgroup-matrix-probe).
    const h200 = [i8(16, 16, 32, 'u8', 'u32'), i8(16, 16, 32), i8(16, 8, 32, 'u8', 'u32'), i8(16, 8, 32)];
    expect(chooseSubgroupMatrixInt8(h200, 32, 32)).toEqual({ M: 16, N: 16, K: 32, subgroupSize: 32 });
    expect(chooseSubgroupMatrixInt8([i8(16, 8, 32)], 32, 32)).toEqual({ M: 16, N: 8, K: 32, subgroupSize: 32 });
    expect(chooseSubgroupMatrixInt8(h200, undefined, 32)).toEqual({ M: 16, N: 16, K: 32, subgroupSize: 32 });
    expect(chooseSubgroupMatrixInt8(h200, 16, 32)).toBeUndefined(); // a varying subgroup size
    expect(chooseSubgroupMatrixInt8([i8(16, 16, 16), i8(16, 16, 64)], 32, 32)).toBeUndefined(); // K not one block
    expect(chooseSubgroupMatrixInt8([i8(8, 2, 32)], 32, 32)).toBeUndefined(); // 16 elements for 32 lanes
    expect(chooseSubgroupMatrixInt8([i8(24, 8, 32)], 32, 32)).toBeUndefined(); // a lane's 6 elements span rows
    expect(chooseSubgroupMatrixInt8([i8(16, 16, 32, 'i8', 'f32'), f16(16, 16, 16)], 32, 32)).toBeUndefined();
    expect(chooseSubgroupMatrixInt8(h200, 32, undefined)).toBeUndefined();
  });

  it('where the adapter has none (SwiftShader, even with allow_unsafe_apis), matmul asked for it takes the portable GEMM', async () => {
    const unsafe = await createNodeGpu({ dawnFlags: ['enable-dawn-features=allow_unsafe_apis'] });
    try {
      expect(unsafe.features.subgroupMatrix).toBeUndefined();
      expect(unsafe.features.subgroupMatrixInt8).toBeUndefined();
    } finally {
      unsafe.destroy();
    }
    const ctx = await gpu();
    expect(ctx.features.subgroupMatrix).toBeUndefined();
    expect(ctx.features.subgroupMatrixInt8).toBeUndefined();
    const [T, N, K] = [19, 37, 64];
    const x = randomF32(T * K, 1);
    const w = randomF32(N * K, 2);
    ctx.kernelOverrides = { gemmMatrix: { use: true }, gemm: { use: false } };
    try {
      const y = ctx.createTensor([T, N], 'f32');
      matmul(ctx, ctx.upload(x, [T, K], 'f32'), ctx.upload(w, [N, K], 'f32'), y);
      const got = await ctx.readF32(y);
      const ref = matmulRef(x, w, T, N, K);
      const scale = matmulAbsScale(x, w, T, N, K);
      for (let i = 0; i < T * N; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(1e-5 * scale[i]! + 1e-6);
    } finally {
      ctx.kernelOverrides = undefined;
    }
  });
});
