import { describe, expect, it } from 'vitest';
import { resizeRgbaGpu } from '../../src/kernels/resample.js';
import { resizeRgbaRef } from '../../src/kernels/ref/resample.js';
import { gpu } from '../helpers/gpu.js';
import { rng } from '../helpers/random.js';

/** A random RGBA image: mostly opaque, some transparent and half-transparent pixels. */
function randomImage(w: number, h: number, seed: number) {
  const r = rng(seed);
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    data[i * 4] = Math.floor(r() * 256);
    data[i * 4 + 1] = Math.floor(r() * 256);
    data[i * 4 + 2] = Math.floor(r() * 256);
    const u = r();
    data[i * 4 + 3] = u < 0.8 ? 255 : u < 0.9 ? 0 : Math.floor(r() * 256);
  }
  return { width: w, height: h, data };
}

// Tolerance: none. The GPU passes are integer arithmetic and must equal the CPU reference byte for byte.
describe('resample (GPU resize, fixed point)', () => {
  it.each([
    [97, 61, 33, 21, 'bicubic', 'torch'],
    [97, 61, 33, 21, 'bicubic', 'pil'],
    [13, 7, 41, 29, 'bicubic', 'torch'], // upscale
    [50, 37, 50, 11, 'bilinear', 'torch'], // vertical only
    [51, 37, 17, 37, 'lanczos', 'pil'], // horizontal only
    [33, 33, 33, 33, 'bicubic', 'torch'], // no resize: the alpha composite alone
    [640, 479, 336, 251, 'bicubic', 'torch'],
  ] as const)('%ix%i → %ix%i %s (%s weights)', async (w, h, ow, oh, filter, precision) => {
    const ctx = await gpu();
    const img = randomImage(w, h, w * 7 + oh);
    const got = await resizeRgbaGpu(ctx, img, ow, oh, filter, precision);
    const want = resizeRgbaRef(img, ow, oh, filter, precision);
    let differ = 0;
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) differ++;
    expect(differ).toBe(0);
  });
});
