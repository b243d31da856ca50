import { createBrowserGpu } from '../../../src/browser/gpu.js';
import { matmul } from '../../../src/kernels/matmul.js';

interface Job { T: number; N: number; K: number; x: number[]; w: number[] }

const ctx = createBrowserGpu();
self.onmessage = async (e: MessageEvent<Job>) => {
  try {
    const { T, N, K, x, w } = e.data;
    const gpu = await ctx;
    const y = gpu.createTensor([T, N], 'f32');
    matmul(gpu, gpu.upload(new Float32Array(x), [T, K], 'f32'), gpu.upload(new Float32Array(w), [N, K], 'f32'), y);
    const out = await gpu.readF32(y);
    self.postMessage({ y: Array.from(out), adapter: gpu.adapterInfo });
  } catch (err) {
    self.postMessage({ error: String((err as Error).stack ?? err) });
  }
};
