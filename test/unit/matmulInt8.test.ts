import { describe, expect, it } from 'vitest';
import type { DType } from '../../src/gpu/tensor.js';
import { matmul } from '../../src/kernels/matmul.js';
import { GEMM_INT8_MIN_T, GEMM_INT8_TILE, gemmInt8Tile, gemmTileName, gemmTileProblem, parseGemmTile } from '../../src/kernels/matmulInt8.js';
import { matmulAbsScale, matmulRef } from '../../src/kernels/ref/matmul.js';
import { int8ActivationBound, matmulInt8Ref, quantizeX8Ref } from '../../src/kernels/ref/matmulInt8.js';
import { loadModel } from '../../src/models/load.js';
import { dequantize, quantize, type EncodeDType } from '../../src/weights/quant/index.js';
import { compareLogits, expected, fixtureFiles, QUANT_LIMITS as limits } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { overrideKernels, promptLogitsUnder } from '../helpers/overrides.js';
import { randomF32 } from '../helpers/random.js';

// The prefill matmul on integer dot products (src/kernels/matmulInt8.ts) quantizes x to int8 per row and
// block of 32 (s = max|x| / 127, x ≈ s * q), so it is not held to the f32 path's 1e-4. Two bounds per output:
//  - against the f32 reference (f64 over the dequantized weights): the int8 bound Σ_k |W[n, k]| * s(t, k) / 2
//    (each x within half a step of s * q) plus 1e-5 * Σ_k |x||w| of f32 rounding;
//  - against the same product with x quantized on the CPU as the kernel does (matmulInt8Ref): 1e-5 * Σ|x||w|
//    plus one step s * max_k |W[n, k]|, for a value whose rounding may fall the other way (the GPU's 127 / m
//    may differ from the CPU's by an ulp).
const F32_REL = 1e-5;

interface Case {
  x: Float32Array;
  wq: Float32Array;
  bias?: Float32Array;
  got: Float32Array;
  T: number;
  N: number;
  K: number;
}

function expectWithinBounds({ x, wq, bias, got, T, N, K }: Case, label: string): void {
  const ref = matmulRef(x, wq, T, N, K, bias);
  const refQ = matmulInt8Ref(x, wq, T, N, K, bias);
  const scale = matmulAbsScale(x, wq, T, N, K);
  const bound = int8ActivationBound(x, wq, T, N, K);
  const { s } = quantizeX8Ref(x, T, K);
  let worstQ = 0;
  let worstF = 0;
  for (let t = 0; t < T; t++) {
    let sMax = 0;
    for (let b = 0; b < K / 32; b++) sMax = Math.max(sMax, s[t * (K / 32) + b]!);
    for (let n = 0; n < N; n++) {
      let wMax = 0;
      for (let k = 0; k < K; k++) wMax = Math.max(wMax, Math.abs(wq[n * K + k]!));
      const i = t * N + n;
      const slack = F32_REL * scale[i]! + 1e-30;
      worstQ = Math.max(worstQ, Math.abs(got[i]! - refQ[i]!) / (slack + sMax * wMax));
      worstF = Math.max(worstF, Math.abs(got[i]! - ref[i]!) / (bound[i]! + slack));
    }
  }
  expect(worstQ, `${label}: against int8 x on the CPU`).toBeLessThanOrEqual(1);
  expect(worstF, `${label}: against f32, within the int8 bound`).toBeLessThanOrEqual(1);
}

/** matmul of random x and stored weights; x, w, y and bias are views at offsets inside larger buffers. */
async function run(dtype: DType, T: number, N: number, K: number, withBias: boolean, seed: number): Promise<Case> {
  const ctx = await gpu();
  const x = randomF32(T * K, seed);
  const lead = 3; // rows of W before the view
  const all = randomF32((lead + N + 2) * K, seed + 1);
  const bytes = quantize(all, dtype as EncodeDType);
  const rowBytes = bytes.byteLength / (lead + N + 2);
  const wq = dequantize(bytes, dtype, all.length).subarray(lead * K, (lead + N) * K);
  const bias = withBias ? randomF32(N, seed + 2) : undefined;
  const xBuf = ctx.upload(new Float32Array([0, 0, 0, ...x, 0]), [T * K + 4], 'f32'); // x at 12 bytes: not vec4-aligned
  const xView = ctx.view(xBuf, [T, K], 12);
  const wView = ctx.view(ctx.upload(bytes, [lead + N + 2, K], dtype), [N, K], lead * rowBytes);
  const y = ctx.createTensor([T + 1, N], 'f32');
  const yView = ctx.view(y, [T, N], 4 * N);
  const bView = bias && ctx.view(ctx.upload(new Float32Array([9, ...bias]), [N + 1], 'f32'), [N], 4);
  matmul(ctx, xView, wView, yView, bView);
  const got = (await ctx.readF32(y)).slice(N, N + T * N);
  return { x, wq, bias, got, T, N, K };
}

describe('matmul prefill GEMM on integer dot products (int8 x per block of 32)', () => {
  it('is what matmul picks from GEMM_INT8_MIN_T tokens here, with tiles that fit', async () => {
    const ctx = await gpu();
    expect(GEMM_INT8_MIN_T).toBe(16);
    expect(gemmTileProblem(ctx, GEMM_INT8_TILE, 'q4_k')).toBeUndefined();
    expect(gemmInt8Tile(ctx)).toBe(GEMM_INT8_TILE);
    // Against the f32 path: different results show which kernel ran.
    const a = await run('q4_0', 16, 33, 64, false, 1);
    await overrideKernels({ gemm: { use: false } });
    const b = await run('q4_0', 16, 33, 64, false, 1);
    expect(Array.from(a.got)).not.toEqual(Array.from(b.got));
    expectWithinBounds(a, 'q4_0 T=16');
  });

  const shapes: [DType, number[]][] = [
    ['q4_0', [64, 96, 288]],
    ['q8_0', [64, 96, 288]],
    ['q4_k', [256, 512]],
  ];
  for (const [dtype, ks] of shapes) {
    it.each([17, 33, 70])(`${dtype}: T=%i, N in {1, 7, 130, 257}, K in {${ks}}, views at offsets, bias on odd N`, async (T) => {
      let seed = 100 + T;
      for (const N of [1, 7, 130, 257]) {
        for (const K of ks) {
          const c = await run(dtype, T, N, K, N % 2 === 1, seed++);
          expectWithinBounds(c, `${dtype} T=${T} N=${N} K=${K}`);
        }
      }
    });
  }

  // Tile shapes the kernel lab sweeps, where SwiftShader runs them (at most 256 threads): the template for each.
  const swept = ['64x128t8x4k2p', '64x64t4x4k1', '32x64t4x4k4p', '64x64t8x8k2', '128x64t8x4k1p', '16x128t4x8k2', '128x128t8x8k2p'];
  it.each([...new Set([gemmTileName(GEMM_INT8_TILE), ...swept])])('tile %s', async (name) => {
    const ctx = await gpu();
    const tile = parseGemmTile(name);
    await overrideKernels({ gemm: { tile } });
    for (const dtype of ['q4_0', 'q8_0', 'q4_k'] as DType[]) {
      if (gemmTileProblem(ctx, tile, dtype)) continue;
      const K = dtype === 'q4_k' ? 512 : 288; // 9 blocks: a last K step of fewer than KB blocks
      expectWithinBounds(await run(dtype, 70, 137, K, true, 7), `${dtype} ${name}`);
    }
  });

  it('runs from T = 5 when forced (kernelOverrides.gemm.use), and folds its n tiles onto a 2-D grid', async () => {
    await overrideKernels({ maxGridX: 2, gemm: { use: true } });
    expectWithinBounds(await run('q8_0', 5, 301, 96, true, 11), 'q8_0 T=5, 3 x 2 grid');
    expectWithinBounds(await run('q4_k', 9, 301, 256, false, 12), 'q4_k T=9, 3 x 2 grid');
  });

  it('a weight larger than one binding: row ranges of one buffer, x quantized once', async () => {
    // A lower binding limit stands in for the device's; x and y must still fit one binding, hence T = 5.
    await overrideKernels({ gemm: { use: true }, maxBinding: 2048 });
    expectWithinBounds(await run('q4_0', 5, 101, 96, true, 13), 'q4_0 in row ranges');
    expectWithinBounds(await run('q8_0', 5, 45, 96, false, 14), 'q8_0 in row ranges');
    await overrideKernels({ gemm: { use: true }, maxBinding: 8192 });
    expectWithinBounds(await run('q4_k', 5, 101, 256, true, 15), 'q4_k in row ranges');
  });

  it('x blocks of zeros and of one outlier 1000x the rest', async () => {
    const ctx = await gpu();
    const [T, N, K] = [17, 9, 96];
    const x = randomF32(T * K, 15);
    x.fill(0, 32, 64); // block 1 of row 0 all zero (scale 0)
    x[5 * K + 70] = 1000;
    for (const dtype of ['q4_0', 'q8_0'] as DType[]) {
      const bytes = quantize(randomF32(N * K, 16), dtype as EncodeDType);
      const wq = dequantize(bytes, dtype, N * K);
      const y = ctx.createTensor([T, N], 'f32');
      matmul(ctx, ctx.upload(x, [T, K], 'f32'), ctx.upload(bytes, [N, K], dtype), y);
      expectWithinBounds({ x, wq, got: await ctx.readF32(y), T, N, K }, `${dtype} zeros and outlier`);
    }
  });
});

// Whole models with the integer-dot GEMM in every matmul of the prompt (forced from T = 5, so that the
// 12-token prompts take it too): the quantized-model thresholds (QUANT_LIMITS), against f32 logits.

describe.each(['llama', 'qwen2', 'llama_long'])('fixture %s quantized at load, prompt through the integer-dot GEMM', (name) => {
  it.each(['q8_0', 'q4_0'] as const)('%s: top-1 agreement and mean KL against f32', async (dtype) => {
    const ctx = await gpu();
    const exp = await expected(name);
    const model = await loadModel(ctx, fixtureFiles(name), { dtype, maxContext: exp.inputIds.length });
    try {
      const V = model.info.vocabSize;
      const [logits, f32Path] = await promptLogitsUnder(model, exp.inputIds, { gemm: { use: true } }, { gemm: { use: false } });
      const r = compareLogits(exp.logits, logits, V);
      const vsF32Path = compareLogits(f32Path, logits, V);
      console.log(
        `${name} ${dtype} int8 GEMM: mean KL ${r.meanKl.toFixed(5)}, top-1 ${(100 * r.top1).toFixed(1)}%; against the f32-activation path: KL ${vsF32Path.meanKl.toExponential(2)}`,
      );
      expect(Array.from(logits)).not.toEqual(Array.from(f32Path));
      expect(r.meanKl).toBeLessThan(limits[dtype].meanKl);
      expect(r.top1).toBeGreaterThanOrEqual(limits[dtype].top1);
    } finally {
      model.dispose();
    }
  });
});
