import { describe, expect, it } from 'vitest';
import { attention, type AttentionOptions } from '../../src/kernels/attention.js';
import { writeKv } from '../../src/kernels/kvCache.js';
import { attentionRef, type AttentionRefOptions } from '../../src/kernels/ref/attention.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { gpu } from '../helpers/gpu.js';
import { overrideKernels } from '../helpers/overrides.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// Tolerance: 2e-5 absolute on outputs of O(1) (f32 online softmax vs the f64 reference).
const TOL = 2e-5;

interface Case {
  T: number;
  nH: number;
  nKv: number;
  hd: number;
  hdV: number;
  capacity: number;
  o: Omit<AttentionRefOptions, 'sinks'> & { sinks?: boolean; path?: AttentionOptions['path'] };
}

async function check({ T, nH, nKv, hd, hdV, capacity, o }: Case) {
  const ctx = await gpu();
  const q = randomF32(T * nH * hd, 11);
  const k = randomF32(capacity * nKv * hd, 12);
  const v = randomF32(capacity * nKv * hdV, 13);
  const sinks = o.sinks ? randomF32(nH, 14, 2) : undefined;
  const kc = ctx.upload(k, [capacity, nKv, hd], 'f32');
  const vc = ctx.upload(v, [capacity, nKv, hdV], 'f32');
  const out = ctx.createTensor([T, nH, hdV], 'f32');
  attention(ctx, ctx.upload(q, [T, nH, hd], 'f32'), kc, vc, out, { ...o, sinks: sinks && ctx.upload(sinks, [nH], 'f32') });
  const want = attentionRef(q, k, v, T, nH, nKv, hd, hdV, capacity, { ...o, sinks });
  expect(maxAbsDiff(await ctx.readF32(out), want)).toBeLessThan(TOL);
}

const kernels = ['decode', 'prefill', 'prefill rows'] as const;

// Each case runs on every kernel: the split-keys decode kernel, the flash prefill kernel (the default
// where the values fit it) and the row-tiled prefill kernel (wider values).
describe.each(kernels)('attention, %s kernel', (kernel) => {
  const path = kernel === 'decode' ? 'decode' : 'prefill';
  const run = async (c: Omit<Case, 'o'> & { o: Case['o'] }) => {
    if (kernel === 'prefill rows') await overrideKernels({ attentionPrefill: { kernel: 'rows' } });
    await check({ ...c, o: { ...c.o, path } });
  };
  it('one query, GQA, odd head dim 24', () => run({ T: 1, nH: 6, nKv: 2, hd: 24, hdV: 24, capacity: 37, o: { startPos: 36, scale: 0.2 } }));
  it('from position 0, MHA, head dim 40', () => run({ T: 13, nH: 3, nKv: 3, hd: 40, hdV: 40, capacity: 13, o: { startPos: 0, scale: 0.15 } }));
  it('after a cached prefix, MQA, hdV != hd, 300 keys', () => run({ T: 5, nH: 4, nKv: 1, hd: 72, hdV: 33, capacity: 301, o: { startPos: 296, scale: 0.1 } }));
  it('sliding window over a rotating cache that has wrapped', () =>
    run({ T: 3, nH: 4, nKv: 2, hd: 24, hdV: 24, capacity: 11, o: { startPos: 40, scale: 0.2, window: 8 } }));
  it('sinks, window and softcap together', () =>
    run({ T: 7, nH: 4, nKv: 2, hd: 24, hdV: 24, capacity: 19, o: { startPos: 12, scale: 0.3, window: 5, softcap: 2.5, sinks: true } }));
  it('V from the first dims of K (MLA latent cache)', () =>
    run({ T: 2, nH: 5, nKv: 1, hd: 48, hdV: 32, capacity: 23, o: { startPos: 21, scale: 0.125, vFromK: true } }));
  it('head dims not multiples of 4 (37 / 19), GQA 3, sinks', () =>
    run({ T: 4, nH: 6, nKv: 2, hd: 37, hdV: 19, capacity: 70, o: { startPos: 61, scale: 0.16, sinks: true } }));
  it('12 heads on one kv head (two head groups), 300 keys, softcap and sinks', () =>
    run({ T: 2, nH: 12, nKv: 1, hd: 72, hdV: 72, capacity: 303, o: { startPos: 298, scale: 0.12, softcap: 3, sinks: true } }));
  it('wide MLA-like rows (hd 200, hdV 136 from K), 150 keys', () =>
    run({ T: 1, nH: 9, nKv: 1, hd: 200, hdV: 136, capacity: 151, o: { startPos: 149, scale: 0.07, vFromK: true } }));
  it('Qwen2.5-1.5B heads (12 on 2 kv heads, dim 128), 3 rows, window, 300 keys', () =>
    run({ T: 3, nH: 12, nKv: 2, hd: 128, hdV: 128, capacity: 301, o: { startPos: 290, scale: 0.09, window: 200 } }));
  it('head dim 256 with sinks and softcap (16 keys per value lane)', () =>
    run({ T: 1, nH: 4, nKv: 2, hd: 256, hdV: 256, capacity: 77, o: { startPos: 76, scale: 0.06, softcap: 4, sinks: true } }));
  it('values wider than a workgroup (hdV 516: two units per thread, loads in steps)', () =>
    run({ T: 2, nH: 2, nKv: 1, hd: 64, hdV: 516, capacity: 90, o: { startPos: 60, scale: 0.12 } }));
  it('scalar values wider than a workgroup (hdV 131)', () =>
    run({ T: 1, nH: 3, nKv: 1, hd: 12, hdV: 131, capacity: 45, o: { startPos: 44, scale: 0.3, sinks: true } }));
  it('long window over a wrapped ring, several key tiles', () =>
    run({ T: 3, nH: 2, nKv: 1, hd: 24, hdV: 40, capacity: 263, o: { startPos: 500, scale: 0.2, window: 261 } }));
});

describe('attention, default path', () => {
  it('a prefill chunk of 41 rows, GQA 3, window crossing key tiles', () =>
    check({ T: 41, nH: 6, nKv: 2, hd: 40, hdV: 40, capacity: 90, o: { startPos: 7, scale: 0.15, window: 37 } }));
  it('a long decode splits the keys (two dispatches), a short one does not', async () => {
    const ctx = await gpu();
    const n0 = ctx.dispatchCount;
    await check({ T: 1, nH: 4, nKv: 2, hd: 24, hdV: 24, capacity: 30, o: { startPos: 29, scale: 0.2 } });
    expect(ctx.dispatchCount - n0).toBe(1);
    const n1 = ctx.dispatchCount;
    await check({ T: 1, nH: 4, nKv: 2, hd: 24, hdV: 24, capacity: 400, o: { startPos: 399, scale: 0.2 } });
    expect(ctx.dispatchCount - n1).toBe(2);
  });
  it('a grid large enough for tiles of 32 rows in the row kernel (two per thread)', async () => {
    await overrideKernels({ attentionPrefill: { kernel: 'rows' } });
    await check({ T: 66, nH: 128, nKv: 1, hd: 12, hdV: 9, capacity: 70, o: { startPos: 3, scale: 0.3, window: 50 } });
  });
  it('wide values (hdV 264: one row per thread in the prefill kernel)', () =>
    check({ T: 9, nH: 4, nKv: 2, hd: 40, hdV: 264, capacity: 30, o: { startPos: 17, scale: 0.15, sinks: true } }));
  it('one workgroup per kv head walks 300 keys in blocks (the next block loaded while one is used)', async () => {
    await overrideKernels({ attention: { targetWorkgroups: 1 } });
    const ctx = await gpu();
    const n0 = ctx.dispatchCount;
    await check({ T: 2, nH: 12, nKv: 2, hd: 128, hdV: 128, capacity: 310, o: { startPos: 298, scale: 0.09, sinks: true } });
    expect(ctx.dispatchCount - n0).toBe(1);
  });
  it('8300 keys: the decode kernel merges 130 chunks of 64 keys', () =>
    check({ T: 1, nH: 2, nKv: 1, hd: 8, hdV: 5, capacity: 8300, o: { startPos: 8299, scale: 0.5, sinks: true } }));
  it('rejects a cache too small for the window plus the chunk, and mismatched shapes', async () => {
    const ctx = await gpu();
    const q = ctx.createTensor([4, 2, 8], 'f32');
    const kc = ctx.createTensor([6, 1, 8], 'f32');
    const out = ctx.createTensor([4, 2, 8], 'f32');
    expect(() => attention(ctx, q, kc, kc, out, { startPos: 10, scale: 1, window: 4 })).toThrow(InvalidArgumentError);
    expect(() => attention(ctx, q, kc, kc, out, { startPos: 3, scale: 1 })).toThrow(InvalidArgumentError);
    expect(() => attention(ctx, q, kc, ctx.createTensor([6, 1, 5], 'f32'), out, { startPos: 0, scale: 1 })).toThrow(InvalidArgumentError);
  });
});

describe('writeKv', () => {
  it('writes tokens to slots (start + t) % capacity, wrapping', async () => {
    const ctx = await gpu();
    const [T, nKv, hd, hdV, cap, start] = [4, 2, 5, 3, 6, 4];
    const kc = ctx.createTensor([cap, nKv, hd], 'f32');
    const vc = ctx.createTensor([cap, nKv, hdV], 'f32');
    const k = randomF32(T * nKv * hd, 1);
    const v = randomF32(T * nKv * hdV, 2);
    writeKv(ctx, ctx.upload(k, [T, nKv, hd], 'f32'), ctx.upload(v, [T, nKv, hdV], 'f32'), kc, vc, start);
    const gotK = await ctx.readF32(kc);
    const gotV = await ctx.readF32(vc);
    for (let t = 0; t < T; t++) {
      const slot = (start + t) % cap;
      expect(Array.from(gotK.subarray(slot * nKv * hd, (slot + 1) * nKv * hd))).toEqual(Array.from(k.subarray(t * nKv * hd, (t + 1) * nKv * hd)));
      expect(Array.from(gotV.subarray(slot * nKv * hdV, (slot + 1) * nKv * hdV))).toEqual(Array.from(v.subarray(t * nKv * hdV, (t + 1) * nKv * hdV)));
    }
  });
  it('writes keys only when there are no values (MLA latent rows)', async () => {
    const ctx = await gpu();
    const [T, hd, cap, start] = [3, 7, 5, 9];
    const kc = ctx.createTensor([cap, 1, hd], 'f32');
    const k = randomF32(T * hd, 3);
    writeKv(ctx, ctx.upload(k, [T, 1, hd], 'f32'), undefined, kc, undefined, start);
    const got = await ctx.readF32(kc);
    for (let t = 0; t < T; t++) {
      const slot = (start + t) % cap;
      expect(Array.from(got.subarray(slot * hd, (slot + 1) * hd))).toEqual(Array.from(k.subarray(t * hd, (t + 1) * hd)));
    }
  });
});
