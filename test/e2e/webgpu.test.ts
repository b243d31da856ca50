import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DType } from '../../src/gpu/tensor.js';
import { matmulAbsScale, matmulRef } from '../../src/kernels/ref/matmul.js';
import { dequantize, quantize } from '../../src/weights/quant/index.js';
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

  // The decode GEMV on integer dot products (dot4I8Packed, Chrome 123+) as the browser compiles it.
  it.each(['q4_0', 'q8_0', 'q4_k'] as DType[])('runs the %s decode GEMV (T = 1) in a worker within 1e-4 of the reference', async (dtype) => {
    const page = await rig.open('/test/e2e/pages/matmul.html');
    const [T, N, K] = [1, 37, 768];
    const x = randomF32(T * K, 9);
    const bytes = quantize(randomF32(N * K, 10), dtype as 'q4_0' | 'q8_0' | 'q4_k');
    const wq = dequantize(bytes, dtype, N * K);
    const res = await page.evaluate(
      (job) => (window as unknown as { runMatmul: (j: unknown) => Promise<{ y: number[]; features: { packedDot: boolean } }> }).runMatmul(job),
      { T, N, K, x: Array.from(x), w: Array.from(bytes), dtype },
    );
    expect(res.features.packedDot).toBe(true);
    const ref = matmulRef(x, wq, T, N, K);
    const scale = matmulAbsScale(x, wq, T, N, K);
    for (let n = 0; n < N; n++) expect(Math.abs(res.y[n]! - ref[n]!) / scale[n]!).toBeLessThan(1e-4);
  });
});
