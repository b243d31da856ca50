import { describe, expect, it } from 'vitest';
import { attention } from '../../src/kernels/attention.js';
import { attentionRef, type AttentionRefOptions } from '../../src/kernels/ref/attention.js';
import { gpu } from '../helpers/gpu.js';
import { overrideKernels } from '../helpers/overrides.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// Tolerance: 2e-5 absolute on outputs of O(1) (f32 online softmax vs the f64 reference), as attention.test.ts.
const TOL = 2e-5;

interface Case {
  T: number;
  nH: number;
  nKv: number;
  hd: number;
  hdV: number;
  capacity: number;
  o: Omit<AttentionRefOptions, 'sinks'> & { sinks?: boolean };
}

async function check({ T, nH, nKv, hd, hdV, capacity, o }: Case): Promise<number> {
  const ctx = await gpu();
  const q = randomF32(T * nH * hd, 31 + T);
  const k = randomF32(capacity * nKv * hd, 32 + T);
  const v = randomF32(capacity * nKv * (o.vFromK ? hd : hdV), 33 + T);
  const sinks = o.sinks ? randomF32(nH, 34, 2) : undefined;
  const kc = ctx.upload(k, [capacity, nKv, hd], 'f32');
  const vc = o.vFromK ? kc : ctx.upload(v, [capacity, nKv, hdV], 'f32');
  const out = ctx.createTensor([T, nH, hdV], 'f32');
  const n0 = ctx.dispatchCount;
  attention(ctx, ctx.upload(q, [T, nH, hd], 'f32'), kc, vc, out, { ...o, path: 'prefill', sinks: sinks && ctx.upload(sinks, [nH], 'f32') });
  const dispatches = ctx.dispatchCount - n0;
  const want = attentionRef(q, k, o.vFromK ? k : v, T, nH, nKv, hd, hdV, capacity, { ...o, sinks });
  expect(maxAbsDiff(await ctx.readF32(out), want)).toBeLessThan(TOL);
  return dispatches;
}

// The flash prefill kernel (shaders/attentionFlash.wgsl) on shapes off its tiles: T, the rows T x G of a kv
// head (64 per workgroup), the window and the key splits not multiples of the tile (32 or 64 keys), head
// dims not multiples of its slabs (or of 4: the scalar loads), with one split (written directly) and several
// (merged by `combine`).
describe.each([
  [32, 32],
  [64, 16],
  [32, 16],
] as const)('attention, flash prefill kernel, tiles of %i keys, slabs of %i dims', (bk, ds) => {
  const run = async (c: Case, splits?: number) => {
    await overrideKernels({ attentionPrefill: { kernel: 'flash', bk, ds, splits } });
    return check(c);
  };
  it('T 37, GQA 3, window 45 over a wrapped ring, three key splits', async () => {
    const n = await run({ T: 37, nH: 6, nKv: 2, hd: 24, hdV: 20, capacity: 81, o: { startPos: 70, scale: 0.2, window: 45 } }, 3);
    expect(n).toBe(2); // the kernel and the merge
  });
  it('T 70 from position 0, MHA, head dim 40, one split', async () => {
    const n = await run({ T: 70, nH: 3, nKv: 3, hd: 40, hdV: 40, capacity: 70, o: { startPos: 0, scale: 0.15 } }, 1);
    expect(n).toBe(1);
  });
  it('G 7 on one kv head, 300 cached keys, sinks and softcap, five splits (some empty for early rows)', () =>
    run({ T: 23, nH: 7, nKv: 1, hd: 72, hdV: 68, capacity: 330, o: { startPos: 300, scale: 0.12, softcap: 3, sinks: true } }, 5));
  it('head dims not multiples of 4 (37 / 19), sinks, window, two splits', () =>
    run({ T: 19, nH: 4, nKv: 2, hd: 37, hdV: 19, capacity: 120, o: { startPos: 90, scale: 0.16, window: 33, sinks: true } }, 2));
  it('values up to 256 wide (hdV 200 from K), splits chosen by the kernel', () =>
    run({ T: 9, nH: 2, nKv: 1, hd: 204, hdV: 200, capacity: 600, o: { startPos: 580, scale: 0.07, vFromK: true } }));
  it('head dim 128, GQA 6, 700 keys: the default split of a long context', () =>
    run({ T: 12, nH: 6, nKv: 1, hd: 128, hdV: 128, capacity: 700, o: { startPos: 688, scale: 0.088 } }));
  it('no causal mask, T 45, two splits', () => run({ T: 45, nH: 4, nKv: 2, hd: 32, hdV: 36, capacity: 50, o: { startPos: 5, scale: 0.17, causal: false } }, 2));
});
