import { describe, expect, it } from 'vitest';
import { CapturedStep, POSITION } from '../../src/gpu/capture.js';
import { attention } from '../../src/kernels/attention.js';
import { attentionRef } from '../../src/kernels/ref/attention.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

// The decode kernel's partial results go into one scratch buffer per context that grows with the keys a query
// sees. 32 heads of 64 dims split 256 keys into 8 chunks (68 KiB of partials) and 1,024 keys into 32 (270 KiB).
const [nH, nKv, hd, capacity] = [32, 4, 64, 1024];

describe('the attention decode scratch buffer', () => {
  it('is replaced when it grows: the old one destroyed, steps captured with it recorded again, results right', async () => {
    const ctx = await gpu();
    const k = randomF32(capacity * nKv * hd, 3);
    const v = randomF32(capacity * nKv * hd, 4);
    const q = randomF32(nH * hd, 5);
    const kc = ctx.upload(k, [capacity, nKv, hd], 'f32');
    const vc = ctx.upload(v, [capacity, nKv, hd], 'f32');
    const qt = ctx.upload(q, [1, nH, hd], 'f32');
    const out = ctx.createTensor([1, nH, hd], 'f32');
    const step = new CapturedStep(ctx);
    /** One query at `startPos`, through the captured step as a model's decode token goes. */
    const run = async (startPos: number) => {
      if (!step.replay([kc.buffer, out.buffer], { [POSITION]: startPos })) {
        step.begin();
        attention(ctx, qt, kc, vc, out, { startPos, scale: 0.125, path: 'decode' });
        step.end();
      }
      const want = attentionRef(q, k, v, 1, nH, nKv, hd, hd, capacity, { startPos, scale: 0.125 });
      expect(maxAbsDiff(await ctx.readF32(out), want), `at position ${startPos}`).toBeLessThan(2e-5);
    };
    await run(100); // recorded: the scratch is made
    await run(101); // replayed
    expect([step.recorded, step.replayed]).toEqual([1, 1]);
    const held = { live: ctx.liveBuffers, bytes: ctx.bytesAllocated };
    await run(900); // more chunks: the scratch grows
    const grown = { live: ctx.liveBuffers, bytes: ctx.bytesAllocated };
    expect(grown.live).toBe(held.live); // the old buffer destroyed, not dropped
    expect(grown.bytes).toBeGreaterThan(held.bytes);
    // The step captured at 100 bound the old buffer: it is recorded again, not replayed with a destroyed buffer.
    await run(102);
    expect([step.recorded, step.replayed]).toEqual([3, 1]);
    await run(103);
    expect([step.recorded, step.replayed]).toEqual([3, 2]);
    await ctx.sync(); // no WebGPU error was raised by any of it
    expect({ live: ctx.liveBuffers, bytes: ctx.bytesAllocated }).toEqual(grown);
  });
});
