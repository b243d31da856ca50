import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matmulRef } from '../../src/kernels/ref/matmul.js';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';
import { maxAbsDiff, randomF32 } from '../helpers/random.js';

describe('WebGPU in headless Chromium', () => {
  let rig: BrowserRig;
  beforeAll(async () => {
    rig = await startBrowserRig();
  });
  afterAll(async () => rig?.close());

  it('runs the matmul kernel in a module worker and matches the CPU reference', async () => {
    const page = await rig.open('/test/e2e/pages/matmul.html');
    const [T, N, K] = [5, 23, 41];
    const x = randomF32(T * K, 7);
    const w = randomF32(N * K, 8);
    const res = await page.evaluate(
      (job) => (window as unknown as { runMatmul: (j: unknown) => Promise<{ y: number[]; adapter: { vendor: string } }> }).runMatmul(job),
      { T, N, K, x: Array.from(x), w: Array.from(w) },
    );
    expect(res.adapter.vendor).toBeTruthy();
    expect(maxAbsDiff(res.y, matmulRef(x, w, T, N, K))).toBeLessThan(1e-4);
  });
});
