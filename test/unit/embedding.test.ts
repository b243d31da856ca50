import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import type { DType } from '../../src/gpu/tensor.js';
import { embedding } from '../../src/kernels/embedding.js';
import { embeddingRef } from '../../src/kernels/ref/embedding.js';
import { dequantize, quantize, type EncodeDType } from '../../src/weights/quant/index.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// H odd for float dtypes, 32 * odd / 256 for block formats. The gather reads weights with load_w4 of
// shaders/weights.wgsl, so this also checks that reader for every dtype. Tolerance 1e-6 relative to the
// value (one f32 multiply by the scale).
const hOf: Record<string, number> = { f32: 37, f16: 39, bf16: 35, q8_0: 96, q4_0: 160, q4_k: 256, q6_k: 512 };

describe('embedding', () => {
  it.each(Object.keys(hOf) as DType[])('%s: gathers rows and scales them', async (dtype) => {
    const ctx = await gpu();
    const V = 11;
    const H = hOf[dtype]!;
    const values = randomF32(V * H, 31, 2);
    const bytes = dtype === 'f32' ? new Uint8Array(values.buffer) : quantize(values, dtype as EncodeDType);
    const table = dequantize(bytes, dtype, V * H);
    const ids = Uint32Array.from([3, 0, 10, 3, 7, 99]); // 99 is outside the table: zeros
    const out = ctx.createTensor([ids.length, H], 'f32');
    const scale = Math.sqrt(H);
    embedding(ctx, ctx.upload(ids, [ids.length], 'u32'), ctx.upload(bytes, [V, H], dtype), out, scale);
    const got = await ctx.readF32(out);
    const ref = embeddingRef(ids, table, V, H, scale);
    expect(maxAbsDiff(got, ref)).toBeLessThanOrEqual(1e-6 * 2 * scale * 2);
  });

  it.each(['f32', 'q8_0'] as DType[])('%s: a table larger than one binding is read in row ranges', async (dtype) => {
    const ctx = await gpu();
    const [V, H] = [50, 64];
    const values = randomF32(V * H, 33);
    const bytes = dtype === 'f32' ? new Uint8Array(values.buffer) : quantize(values, dtype as EncodeDType);
    const table = dequantize(bytes, dtype, V * H);
    const ids = Uint32Array.from([0, 49, 7, 23, 60, 6, 12]); // 60 is outside the table: zeros
    const out = ctx.createTensor([ids.length, H], 'f32');
    const idsT = ctx.upload(ids, [ids.length], 'u32');
    const tableT = ctx.upload(bytes, [V, H], dtype);
    ctx.kernelOverrides = { maxBinding: 2048 }; // stands in for maxStorageBufferBindingSize: several row ranges
    try {
      embedding(ctx, idsT, tableT, out);
    } finally {
      ctx.kernelOverrides = undefined;
    }
    expect(maxAbsDiff(await ctx.readF32(out), embeddingRef(ids, table, V, H))).toBe(0);
  });

  it('reads ids and writes out through views at unaligned offsets', async () => {
    const ctx = await gpu();
    const V = 5;
    const H = 64;
    const values = randomF32(V * H, 32);
    const bytes = quantize(values, 'q4_0');
    const table = dequantize(bytes, 'q4_0', V * H);
    const idsAll = Uint32Array.from([9, 9, 4, 1, 2]);
    const ids = ctx.view(ctx.upload(idsAll, [5], 'u32'), [3], 8);
    const out = ctx.createTensor([4, H], 'f32');
    embedding(ctx, ids, ctx.upload(bytes, [V, H], 'q4_0'), ctx.view(out, [3, H], 4 * H));
    const got = (await ctx.readF32(out)).subarray(H);
    expect(maxAbsDiff(got, embeddingRef([4, 1, 2], table, V, H))).toBe(0);
  });

  it('rejects a row that is not whole blocks', async () => {
    const ctx = await gpu();
    const table = ctx.createTensor([2, 256], 'q4_k');
    expect(() => embedding(ctx, ctx.createTensor([1], 'u32'), { ...table, shape: [8, 64] }, ctx.createTensor([1, 64], 'f32'))).toThrow(InvalidArgumentError);
  });
});
