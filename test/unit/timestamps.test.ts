import { afterAll, describe, expect, it } from 'vitest';
import { scale } from '../../src/kernels/elementwise.js';
import { createNodeGpu } from '../../src/node/gpu.js';

// GpuContext.timedPass / resolveQueries, as bench/kernelLab.ts uses them (SwiftShader has timestamp-query).
describe('timed compute passes', () => {
  const ctxP = createNodeGpu({ dawnFlags: ['disable-dawn-features=timestamp_quantization'] });
  afterAll(async () => (await ctxP).destroy());

  it('write non-zero, ordered timestamps around each pass and leave the results right', async () => {
    const ctx = await ctxP;
    expect(ctx.features.timestampQuery).toBe(true);
    const n = 1 << 16;
    const x = ctx.upload(
      Float32Array.from({ length: n }, (_, i) => i),
      [n],
      'f32',
    );
    const y = ctx.createTensor([n], 'f32');
    const querySet = ctx.device.createQuerySet({ type: 'timestamp', count: 8 });
    const resolved = ctx.createBuffer(64, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
    for (let j = 0; j < 4; j++) {
      ctx.timedPass(querySet, 2 * j, 2 * j + 1);
      scale(ctx, x, y, j + 1);
    }
    ctx.resolveQueries(querySet, 0, 8, resolved);
    const ts = new BigUint64Array(await ctx.read(resolved, 64));
    for (let k = 0; k < 8; k++) {
      expect(ts[k]).toBeGreaterThan(0n);
      if (k > 0) expect(ts[k]).toBeGreaterThanOrEqual(ts[k - 1]!);
    }
    expect(ts[7]).toBeGreaterThan(ts[0]!);
    const out = await ctx.readF32(y);
    expect(out[n - 1]).toBe(4 * (n - 1));
    scale(ctx, x, y, 0.5); // an untimed pass after the timed ones
    expect((await ctx.readF32(y))[2]).toBe(1);
    querySet.destroy();
  });
});
