import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidModelError } from '../../src/errors.js';
import { patchPositions, qwen2vlGrid, qwen2vlPreprocess, qwen2vlPreprocessConfig, smartResize } from '../../src/image/qwen2vl.js';
import { decodeImageNode } from '../../src/node/imageDecode.js';
import { readSafetensorsFile } from '../../src/weights/safetensors.js';
import { fixtureDir, fixtureFiles } from '../helpers/fixtures.js';
import { maxAbsDiff } from '../helpers/random.js';

async function fixtureConfig() {
  return qwen2vlPreprocessConfig(JSON.parse(await readFile(join(fixtureDir('qwen2_vl'), 'preprocessor_config.json'), 'utf8')));
}

describe('Qwen2-VL preprocessing', () => {
  it('reproduces the qwen2_vl fixture pixel_values and image_grid_thw from image.png within 1e-4', async () => {
    const t = await readSafetensorsFile(await fixtureFiles('qwen2_vl').open('expected.safetensors'), 'qwen2_vl/expected.safetensors');
    const expected = new Float32Array(t.get('pixel_values')!.data.slice().buffer);
    const grid = Array.from(new Int32Array(t.get('image_grid_thw')!.data.slice().buffer));
    const cfg = await fixtureConfig();
    expect(cfg).toMatchObject({ minPixels: 3136, maxPixels: 12845056, patchSize: 14, temporalPatchSize: 2, mergeSize: 2, filter: 'bicubic', precision: 'pil' });
    const img = await decodeImageNode(await readFile(join(fixtureDir('qwen2_vl'), 'image.png')));
    const out = qwen2vlPreprocess(img, cfg);
    expect([out.grid.t, out.grid.h, out.grid.w]).toEqual(grid);
    expect(out.grid.resized).toEqual({ width: 84, height: 56 });
    expect(out.pixels.length).toBe(expected.length);
    expect(maxAbsDiff(out.pixels, expected)).toBeLessThan(1e-4);
  });

  // Expected sizes from transformers' smart_resize run in Python (round() halves to even).
  it.each([
    [40, 48, 3136, 12845056, 56, 84],
    [70, 98, 3136, 12845056, 56, 112],
    [42, 42, 3136, 12845056, 56, 56],
    [1080, 1920, 3136, 12845056, 1092, 1932],
    [4000, 3000, 3136, 12845056, 4004, 2996],
    [14, 2000, 3136, 12845056, 28, 672],
    [480, 640, 3136, 12845056, 476, 644],
    [1080, 1920, 3136, 1003520, 728, 1316],
    [4000, 3000, 3136, 1003520, 1148, 840],
  ])('smart_resize(%i, %i, min %i, max %i) = %i x %i', (h, w, min, max, eh, ew) => {
    expect(smartResize(h, w, 28, min, max)).toEqual({ height: eh, width: ew });
  });

  it('rejects an aspect ratio past 200:1, and reads the older min_pixels / max_pixels keys', () => {
    expect(() => smartResize(10, 2500, 28, 3136, 12845056)).toThrow(InvalidArgumentError);
    const cfg = qwen2vlPreprocessConfig({ min_pixels: 1000, max_pixels: 2000, image_processor_type: 'Qwen2VLImageProcessor' });
    expect(cfg).toMatchObject({ minPixels: 1000, maxPixels: 2000, precision: 'torch', filter: 'bicubic' });
    expect(() => qwen2vlPreprocessConfig({ size: { shortest_edge: 5000, longest_edge: 100 } })).toThrow(InvalidModelError);
    expect(() => qwen2vlPreprocessConfig({ resample: 0 })).toThrow(InvalidModelError);
  });

  it('orders patches in 2x2 merge groups, row by row', () => {
    const { ph, pw } = patchPositions(4, 6, 2);
    expect(Array.from(ph.slice(0, 8))).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    expect(Array.from(pw.slice(0, 8))).toEqual([0, 1, 0, 1, 2, 3, 2, 3]);
    expect(Array.from(ph.slice(12, 16))).toEqual([2, 2, 3, 3]);
    const cfg = qwen2vlPreprocessConfig({});
    expect(qwen2vlGrid(640, 480, cfg)).toEqual({ t: 1, h: 34, w: 46, resized: { width: 644, height: 476 } });
    expect(() => patchPositions(3, 4, 2)).toThrow(InvalidArgumentError);
  });
});
