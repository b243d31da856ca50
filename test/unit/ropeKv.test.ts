import { describe, expect, it } from 'vitest';
import { writeKvRef } from '../../src/kernels/ref/kvCache.js';
import { rmsNormRef } from '../../src/kernels/ref/norm.js';
import { ropeRef } from '../../src/kernels/ref/rope.js';
import { ropeWriteKv } from '../../src/kernels/ropeKv.js';
import { ropeParameters, ropeTable } from '../../src/models/ropeTable.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32, rng } from '../helpers/random.js';

interface Case {
  layout: 'neox' | 'interleaved';
  T: number;
  nH: number;
  nKv: number;
  hd: number;
  hdV: number;
  rotaryDim: number;
  offset: number;
  capacity: number;
  start: number;
  /** q, k and v as views of one buffer (the fused projection of a decode token), each at a 256-byte boundary. */
  fused?: boolean;
  /** RMSNorm of q and k first: per head, or over each token's whole projection (OLMoE); gemma's weight offset 1. */
  norm?: 'head' | 'projection';
  weightOffset?: number;
}

describe('ropeWriteKv kernel', () => {
  // Against rope's reference on q and on k, then writeKv's: 2e-5 as the rope test (|x| <= 2, angles to ~7e4 rad).
  it.each<Case>([
    { layout: 'neox', T: 1, nH: 6, nKv: 2, hd: 24, hdV: 24, rotaryDim: 24, offset: 0, capacity: 9, start: 7, fused: true },
    { layout: 'neox', T: 3, nH: 5, nKv: 1, hd: 37, hdV: 19, rotaryDim: 20, offset: 3, capacity: 7, start: 5 },
    { layout: 'interleaved', T: 4, nH: 4, nKv: 2, hd: 40, hdV: 33, rotaryDim: 16, offset: 8, capacity: 11, start: 9 },
    { layout: 'interleaved', T: 1, nH: 3, nKv: 3, hd: 64, hdV: 64, rotaryDim: 64, offset: 0, capacity: 5, start: 70001, fused: true },
    { layout: 'neox', T: 2, nH: 8, nKv: 2, hd: 13, hdV: 7, rotaryDim: 6, offset: 5, capacity: 3, start: 1 },
    { layout: 'neox', T: 1, nH: 6, nKv: 2, hd: 24, hdV: 24, rotaryDim: 24, offset: 0, capacity: 9, start: 7, fused: true, norm: 'head' },
    { layout: 'neox', T: 5, nH: 3, nKv: 1, hd: 300, hdV: 21, rotaryDim: 298, offset: 1, capacity: 6, start: 4, norm: 'head', weightOffset: 1 },
    { layout: 'interleaved', T: 3, nH: 4, nKv: 2, hd: 18, hdV: 18, rotaryDim: 12, offset: 2, capacity: 8, start: 3, norm: 'projection' },
    { layout: 'neox', T: 1, nH: 16, nKv: 4, hd: 128, hdV: 128, rotaryDim: 128, offset: 0, capacity: 4, start: 2, fused: true, norm: 'head' },
  ])('$layout T=$T heads=$nH/$nKv hd=$hd/$hdV rotary=$rotaryDim@$offset ring $capacity from $start norm $norm', async (c) => {
    const ctx = await gpu();
    const { T, nH, nKv, hd, hdV } = c;
    const q = randomF32(T * nH * hd, 1, 2);
    const k = randomF32(T * nKv * hd, 2, 2);
    const v = randomF32(T * nKv * hdV, 3, 2);
    const kc0 = randomF32(c.capacity * nKv * hd, 4);
    const vc0 = randomF32(c.capacity * nKv * hdV, 5);
    const r = rng(6);
    const positions = Uint32Array.from({ length: T }, (_, t) => (t === 0 ? c.start : Math.floor(r() * 5000)));
    const { invFreq } = ropeTable(ropeParameters({ rope_theta: 10000 }), c.rotaryDim);
    const opts = { layout: c.layout, rotaryDim: c.rotaryDim, offset: c.offset, attentionFactor: 1.1 };
    let tq, tk, tv;
    if (c.fused) {
      const at = (floats: number) => Math.ceil((floats * 4) / 256) * 256;
      const [oq, ok] = [0, at(q.length)];
      const ov = ok + at(k.length);
      const all = new Float32Array((ov + at(v.length)) / 4);
      all.set(q, oq / 4);
      all.set(k, ok / 4);
      all.set(v, ov / 4);
      const buf = ctx.upload(all, [all.length], 'f32');
      [tq, tk, tv] = [ctx.view(buf, [T, nH, hd], oq), ctx.view(buf, [T, nKv, hd], ok), ctx.view(buf, [T, nKv, hdV], ov)];
    } else {
      [tq, tk, tv] = [ctx.upload(q, [T, nH, hd], 'f32'), ctx.upload(k, [T, nKv, hd], 'f32'), ctx.upload(v, [T, nKv, hdV], 'f32')];
    }
    const kc = ctx.upload(kc0, [c.capacity, nKv, hd], 'f32');
    const vc = ctx.upload(vc0, [c.capacity, nKv, hdV], 'f32');
    const qLen = c.norm === 'projection' ? nH * hd : hd;
    const kLen = c.norm === 'projection' ? nKv * hd : hd;
    const kOffset = qLen + 3;
    const normW = randomF32(kOffset + kLen, 7, 1);
    const eps = 1e-6;
    const norm = c.norm && { weight: ctx.upload(normW, [kOffset + kLen], 'f32'), qLen, kLen, kOffset, eps, weightOffset: c.weightOffset ?? 0 };
    ropeWriteKv(ctx, tq, tk, tv, ctx.upload(positions, [T], 'u32'), ctx.upload(invFreq, [c.rotaryDim / 2], 'f32'), opts, kc, vc, c.start, norm);
    // rmsNormRef normalises rows of its weight's length
    const normed = (x: Float32Array, w: Float32Array) => (c.norm ? rmsNormRef(x, w, eps, c.weightOffset ?? 0) : x);
    const qn = normed(q, normW.subarray(0, qLen));
    const kn = normed(k, normW.subarray(kOffset, kOffset + kLen));
    const slotStart = c.start; // token t goes to slot (start + t) % capacity
    expect(maxAbsDiff(await ctx.readF32(tq), ropeRef(qn, T, nH, hd, positions, invFreq, opts))).toBeLessThan(2e-5);
    expect(maxAbsDiff(await ctx.readF32(kc), writeKvRef(ropeRef(kn, T, nKv, hd, positions, invFreq, opts), kc0, T, nKv * hd, slotStart))).toBeLessThan(2e-5);
    expect(Array.from(await ctx.readF32(vc))).toEqual(Array.from(writeKvRef(v, vc0, T, nKv * hdV, slotStart)));
    expect(Array.from(await ctx.readF32(tk))).toEqual(Array.from(k));
  });

  it('rejects mismatched shapes', async () => {
    const ctx = await gpu();
    const t = (shape: number[]) => ctx.createTensor(shape, 'f32');
    const pos = ctx.upload(new Uint32Array([0]), [1], 'u32');
    const inv = ctx.upload(new Float32Array(4), [4], 'f32');
    const o = { layout: 'neox' as const, rotaryDim: 8 };
    expect(() => ropeWriteKv(ctx, t([1, 4, 8]), t([1, 2, 8]), t([1, 2, 8]), pos, inv, o, t([5, 2, 6]), t([5, 2, 8]), 0)).toThrow(/key cache/);
    expect(() => ropeWriteKv(ctx, t([1, 4, 8]), t([1, 2, 8]), t([1, 2, 8]), pos, inv, { ...o, rotaryDim: 10 }, t([5, 2, 8]), t([5, 2, 8]), 0)).toThrow(
      /rotaryDim/,
    );
    expect(() => ropeWriteKv(ctx, t([2, 4, 8]), t([2, 2, 8]), t([2, 2, 8]), pos, inv, o, t([5, 2, 8]), t([5, 2, 8]), 0)).toThrow(/positions/);
  });
});
