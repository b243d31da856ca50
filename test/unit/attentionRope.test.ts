import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { ropeAttention, type DecodeRope } from '../../src/kernels/attention.js';
import { ropeParameters, ropeTable } from '../../src/models/ropeTable.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// ropeAttention of one decode token in one dispatch (FUSED_ROPE in shaders/attentionDecode.wgsl: the kernel turns the
// raw q|k|v GEMV output and appends k and v to the cache itself) against the same call with the fusion off
// (ropeWriteKv, then attention: both checked against CPU references in ropeKv.test.ts and attention.test.ts).

interface Case {
  layout: 'neox' | 'interleaved';
  nH: number;
  nKv: number;
  hd: number;
  rotaryDim: number;
  offset: number;
  capacity: number;
  /** Position of the token (its cache index); its rotary position is this plus `delta` (Qwen2-VL's text after an image). */
  start: number;
  delta?: number;
  window?: number;
  norm?: boolean;
  weightOffset?: number;
  sinks?: boolean;
  softcap?: number;
}

const at = (floats: number) => Math.ceil((floats * 4) / 256) * 256;

async function run(ctx: GpuContext, c: Case, fuse: boolean) {
  const { nH, nKv, hd } = c;
  const q = randomF32(nH * hd, 1, 2);
  const k = randomF32(nKv * hd, 2, 2);
  const v = randomF32(nKv * hd, 3, 2);
  const [ok, ov] = [at(q.length), at(q.length) + at(k.length)];
  const all = new Float32Array((ov + at(v.length)) / 4);
  all.set(q, 0);
  all.set(k, ok / 4);
  all.set(v, ov / 4);
  const buf = ctx.upload(all, [all.length], 'f32');
  const tq = ctx.view(buf, [1, nH, hd], 0);
  const tk = ctx.view(buf, [1, nKv, hd], ok);
  const tv = ctx.view(buf, [1, nKv, hd], ov);
  const kc = ctx.upload(randomF32(c.capacity * nKv * hd, 4), [c.capacity, nKv, hd], 'f32');
  const vc = ctx.upload(randomF32(c.capacity * nKv * hd, 5), [c.capacity, nKv, hd], 'f32');
  const out = ctx.createTensor([1, nH, hd], 'f32');
  const { invFreq } = ropeTable(ropeParameters({ rope_theta: 10000 }), c.rotaryDim);
  let norm: DecodeRope['norm'];
  if (c.norm) {
    const weight = ctx.upload(randomF32(2 * hd, 6, 1), [2 * hd], 'f32');
    norm = { weight, qLen: hd, kLen: hd, kOffset: hd, eps: 1e-6, weightOffset: c.weightOffset ?? 0 };
  }
  const rope: DecodeRope = {
    positions: ctx.upload(new Uint32Array([c.start + (c.delta ?? 0)]), [1], 'u32'),
    invFreq: ctx.upload(invFreq, [invFreq.length], 'f32'),
    options: { layout: c.layout, rotaryDim: c.rotaryDim, offset: c.offset, attentionFactor: 1.1 },
    norm,
  };
  const sinks: Tensor | undefined = c.sinks ? ctx.upload(randomF32(nH, 7, 1), [nH], 'f32') : undefined;
  ctx.kernelOverrides = fuse ? undefined : { attention: { fuseRope: false } };
  const before = ctx.dispatchCount;
  try {
    ropeAttention(ctx, tq, tk, tv, rope, kc, vc, out, { startPos: c.start, scale: 1 / Math.sqrt(hd), window: c.window, sinks, softcap: c.softcap });
  } finally {
    ctx.kernelOverrides = undefined;
  }
  const dispatches = ctx.dispatchCount - before;
  return { dispatches, out: await ctx.readF32(out), kc: await ctx.readF32(kc), vc: await ctx.readF32(vc) };
}

describe('ropeAttention: RoPE, the cache append and decode attention in one dispatch', () => {
  it.each<Case>([
    { layout: 'neox', nH: 6, nKv: 2, hd: 128, rotaryDim: 128, offset: 0, capacity: 64, start: 5 },
    { layout: 'neox', nH: 6, nKv: 2, hd: 128, rotaryDim: 128, offset: 0, capacity: 512, start: 300, delta: 7 },
    { layout: 'interleaved', nH: 16, nKv: 4, hd: 64, rotaryDim: 32, offset: 16, capacity: 300, start: 288 },
    { layout: 'neox', nH: 32, nKv: 4, hd: 128, rotaryDim: 128, offset: 0, capacity: 600, start: 517, norm: true },
    { layout: 'neox', nH: 4, nKv: 2, hd: 24, rotaryDim: 20, offset: 2, capacity: 40, start: 33, norm: true, weightOffset: 1, window: 16 },
    { layout: 'neox', nH: 3, nKv: 1, hd: 13, rotaryDim: 10, offset: 1, capacity: 50, start: 49, softcap: 30 },
    { layout: 'neox', nH: 8, nKv: 8, hd: 64, rotaryDim: 64, offset: 0, capacity: 9, start: 70, window: 8, sinks: true },
    { layout: 'interleaved', nH: 5, nKv: 1, hd: 40, rotaryDim: 40, offset: 0, capacity: 33, start: 0 },
  ])('$layout heads $nH/$nKv hd $hd rotary $rotaryDim@$offset cache $capacity at $start window $window norm $norm sinks $sinks', async (c) => {
    const ctx = await gpu();
    const fused = await run(ctx, c, true);
    const apart = await run(ctx, c, false);
    // One dispatch fewer (ropeKv's), except with per-head q/k norms, which keep ropeKv (measured faster on the H200).
    expect(fused.dispatches).toBe(apart.dispatches - (c.norm ? 0 : 1));
    expect(maxAbsDiff(fused.out, apart.out)).toBeLessThan(2e-5);
    // The new key and value in their slot (the same f32 operations as ropeKv's, the norm summed in another order), the rest untouched.
    expect(maxAbsDiff(fused.kc, apart.kc)).toBeLessThan(2e-5);
    expect(maxAbsDiff(fused.vc, apart.vc)).toBe(0);
  });
});
