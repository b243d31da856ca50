import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { writeKv } from '../../src/kernels/kvCache.js';
import { writeKvRef } from '../../src/kernels/ref/kvCache.js';
import { gpu } from '../helpers/gpu.js';
import { randomF32 } from '../helpers/random.js';

describe('writeKv', () => {
  // [T, nKv, hd, hdV, capacity, startPos]: odd rows, a write that wraps the ring, a full-capacity write
  // past the end, rows longer than one workgroup, values narrower than keys.
  it.each([
    [3, 3, 5, 5, 7, 0],
    [4, 2, 7, 3, 6, 4],
    [5, 1, 37, 37, 5, 11],
    [2, 3, 33, 1, 9, 8],
  ])('T=%i nKv=%i hd=%i hdV=%i capacity=%i start=%i', async (T, nKv, hd, hdV, capacity, start) => {
    const ctx = await gpu();
    const k = randomF32(T * nKv * hd, 1);
    const v = randomF32(T * nKv * hdV, 2);
    const kc = randomF32(capacity * nKv * hd, 3);
    const vc = randomF32(capacity * nKv * hdV, 4);
    const kCache = ctx.upload(kc, [capacity, nKv, hd], 'f32');
    const vCache = ctx.upload(vc, [capacity, nKv, hdV], 'f32');
    writeKv(ctx, ctx.upload(k, [T, nKv, hd], 'f32'), ctx.upload(v, [T, nKv, hdV], 'f32'), kCache, vCache, start);
    expect(await ctx.readF32(kCache)).toEqual(writeKvRef(k, kc, T, nKv * hd, start));
    expect(await ctx.readF32(vCache)).toEqual(writeKvRef(v, vc, T, nKv * hdV, start));
  });

  it('writes keys alone (MLA latent rows)', async () => {
    const ctx = await gpu();
    const [T, row, capacity, start] = [3, 69, 4, 2];
    const k = randomF32(T * row, 5);
    const kc = randomF32(capacity * row, 6);
    const kCache = ctx.upload(kc, [capacity, 1, row], 'f32');
    writeKv(ctx, ctx.upload(k, [T, 1, row], 'f32'), undefined, kCache, undefined, start);
    expect(await ctx.readF32(kCache)).toEqual(writeKvRef(k, kc, T, row, start));
  });

  it('refuses rows that do not match the cache and more tokens than it holds', async () => {
    const ctx = await gpu();
    const cache = ctx.createTensor([4, 2, 8], 'f32');
    expect(() => writeKv(ctx, ctx.createTensor([2, 2, 7], 'f32'), undefined, cache, undefined, 0)).toThrow(InvalidArgumentError);
    expect(() => writeKv(ctx, ctx.createTensor([5, 2, 8], 'f32'), undefined, cache, undefined, 0)).toThrow(/exceed the cache capacity/);
    const vCache = ctx.createTensor([4, 2, 3], 'f32');
    expect(() => writeKv(ctx, ctx.createTensor([2, 2, 8], 'f32'), ctx.createTensor([2, 2, 4], 'f32'), cache, vCache, 0)).toThrow(/v rows/);
  });
});
