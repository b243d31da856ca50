import { createBrowserGpu } from '../../../src/browser/gpu.js';
import { matmul } from '../../../src/kernels/matmul.js';

import type { DType } from '../../../src/gpu/tensor.js';

/** w: f32 values, or (with dtype) the bytes of quantized blocks. */
interface Job {
  T: number;
  N: number;
  K: number;
  x: number[];
  w: number[];
  dtype?: DType;
}

const ctx = createBrowserGpu();
self.onmessage = async (e: MessageEvent<Job>) => {
  try {
    const { T, N, K, x, w, dtype = 'f32' } = e.data;
    const gpu = await ctx;
    const y = gpu.createTensor([T, N], 'f32');
    const weights = dtype === 'f32' ? new Float32Array(w) : new Uint8Array(w);
    matmul(gpu, gpu.upload(new Float32Array(x), [T, K], 'f32'), gpu.upload(weights, [N, K], dtype), y);
    const out = await gpu.readF32(y);
    self.postMessage({ y: Array.from(out), adapter: gpu.adapterInfo, features: gpu.features });
  } catch (err) {
    self.postMessage({ error: String((err as Error).stack ?? err) });
  }
};
