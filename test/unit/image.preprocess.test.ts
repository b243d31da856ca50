import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidImageError } from '../../src/errors.js';
import { clipPreprocess, clipPreprocessConfig, rgbaToRgb } from '../../src/image/preprocess.js';
import { resampleCoefficients, resizeRgb8 } from '../../src/image/resize.js';
import { decodeImageNode } from '../../src/node/imageDecode.js';
import { readSafetensorsFile } from '../../src/weights/safetensors.js';
import { fixtureDir, fixtureFiles } from '../helpers/fixtures.js';
import { maxAbsDiff } from '../helpers/random.js';

async function fixturePixels(): Promise<Float32Array> {
  const t = await readSafetensorsFile(await fixtureFiles('llava').open('expected.safetensors'), 'llava/expected.safetensors');
  return new Float32Array(t.get('pixel_values')!.data.slice().buffer);
}

// Tolerance: pixel_values within 1e-4 of transformers' CLIPImageProcessor (f32 normalisation of the same
// 8-bit resized pixels; one 8-bit level is 1/255/std ≈ 0.015, so a single differing pixel fails).
describe('CLIP image preprocessing', () => {
  it('reproduces the llava fixture pixel_values from image.png (PNG decoded by pngjs)', async () => {
    const dir = fixtureDir('llava');
    const cfg = clipPreprocessConfig(JSON.parse(await readFile(join(dir, 'preprocessor_config.json'), 'utf8')));
    expect(cfg.precision).toBe('torch');
    const img = await decodeImageNode(await readFile(join(dir, 'image.png')));
    expect([img.width, img.height]).toEqual([48, 40]);
    const { pixels, width, height } = clipPreprocess(img, cfg);
    expect([width, height]).toEqual([32, 32]);
    expect(maxAbsDiff(pixels, await fixturePixels())).toBeLessThan(1e-4);
  });

  it("Pillow's 22-bit weights differ from torchvision's int16 ones by at most one level", async () => {
    const dir = fixtureDir('llava');
    const img = await decodeImageNode(await readFile(join(dir, 'image.png')));
    const rgb = rgbaToRgb(img);
    const a = resizeRgb8(rgb, 48, 40, 38, 32, 'bicubic', 'pil');
    const b = resizeRgb8(rgb, 48, 40, 38, 32, 'bicubic', 'torch');
    let most = 0;
    let differ = 0;
    for (let i = 0; i < a.length; i++) {
      most = Math.max(most, Math.abs(a[i]! - b[i]!));
      if (a[i] !== b[i]) differ++;
    }
    console.log(`pil vs torch resize of image.png: ${differ} of ${a.length} values differ, by at most ${most}`);
    expect(most).toBeLessThanOrEqual(1);
  });

  it('weights sum to one in fixed point and windows stay inside the image (odd sizes, up and down)', () => {
    for (const [inS, outS] of [
      [37, 11],
      [11, 37],
      [5, 5],
      [1001, 224],
      [3, 1],
    ] as const) {
      for (const filter of ['bilinear', 'bicubic', 'lanczos'] as const) {
        const c = resampleCoefficients(inS, outS, filter, 'pil');
        for (let i = 0; i < outS; i++) {
          let sum = 0;
          for (let j = 0; j < c.count[i]!; j++) sum += c.weights[i * c.k + j]!;
          expect(Math.abs(sum - 2 ** c.precision)).toBeLessThanOrEqual(c.k);
          expect(c.start[i]! + c.count[i]!).toBeLessThanOrEqual(inS);
        }
      }
    }
  });

  it('a constant image stays constant; alpha is composited over white', () => {
    const data = new Uint8Array(7 * 5 * 4);
    for (let i = 0; i < 35; i++) data.set([100, 150, 200, 255], i * 4);
    data.set([0, 0, 0, 0], 0);
    data.set([200, 100, 0, 128], 4);
    const rgb = rgbaToRgb({ width: 7, height: 5, data });
    expect(Array.from(rgb.subarray(0, 6))).toEqual([255, 255, 255, 227, 177, 127]);
    const flat = new Uint8Array(7 * 5 * 3).fill(77);
    expect(resizeRgb8(flat, 7, 5, 3, 9, 'bicubic', 'torch').every((v) => v === 77)).toBe(true);
  });

  it('decodes JPEG with jpeg-js (a JPEG of image.png, within JPEG loss) and data URLs', async () => {
    const jpeg = (await import('jpeg-js')).default;
    const png = await decodeImageNode(await readFile(join(fixtureDir('llava'), 'image.png')));
    const jpg = jpeg.encode({ width: png.width, height: png.height, data: Buffer.from(png.data) }, 95).data;
    const back = await decodeImageNode(new Uint8Array(jpg));
    expect([back.width, back.height]).toEqual([48, 40]);
    let err = 0;
    for (let i = 0; i < png.data.length; i++) if (i % 4 !== 3) err += Math.abs(back.data[i]! - png.data[i]!);
    expect(err / (48 * 40 * 3)).toBeLessThan(4); // mean absolute error in levels at quality 95
    const { dataUrlBytes } = await import('../../src/image/decode.js');
    expect(Array.from(dataUrlBytes('data:image/png;base64,AAEC/w=='))).toEqual([0, 1, 2, 255]);
    expect(() => dataUrlBytes('data:image/png;base64,@@@')).toThrow(InvalidImageError);
  });

  it('undecodable bytes give InvalidImageError', async () => {
    await expect(decodeImageNode(new Uint8Array([1, 2, 3, 4, 5]))).rejects.toBeInstanceOf(InvalidImageError);
    const png = await readFile(join(fixtureDir('llava'), 'image.png'));
    await expect(decodeImageNode(png.subarray(0, 60))).rejects.toBeInstanceOf(InvalidImageError);
    await expect(decodeImageNode(new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2, 3]))).rejects.toBeInstanceOf(InvalidImageError);
  });
});
