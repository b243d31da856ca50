import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { idefics3ImagePrompt, idefics3Layout, idefics3PreprocessConfig, idefics3Preprocess } from '../../src/image/idefics3.js';
import { InvalidModelError } from '../../src/errors.js';
import { buildIdefics3, type Idefics3Model } from '../../src/models/idefics3.js';
import { isIdefics3Config } from '../../src/models/idefics3Config.js';
import { loadWeightsAndConfig } from '../../src/models/load.js';
import { decodeImageNode } from '../../src/node/imageDecode.js';
import { compareLogits, expectedTensors, fixtureDir, fixtureFiles } from '../helpers/fixtures.js';
import { expectPromptAndGreedy } from '../helpers/golden.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/random.js';

async function load(opts: { maxChunk?: number; dtype?: 'f32' | 'q8_0' } = {}): Promise<Idefics3Model> {
  const { config, weights } = await loadWeightsAndConfig(fixtureFiles('idefics3'));
  if (!isIdefics3Config(config)) throw new Error('not an idefics3 config');
  return buildIdefics3(await gpu(), config, weights, { dtype: opts.dtype ?? 'f32', maxContext: 96, maxChunk: opts.maxChunk });
}

async function expectedOf() {
  const t = await expectedTensors('idefics3');
  return {
    inputIds: t.ids('input_ids'),
    logits: t.f32('logits'),
    greedyIds: t.ids('greedy_ids'),
    pixelValues: t.f32('pixel_values'),
    visionHidden: t.f32('vision_hidden'),
    imageFeatures: t.f32('image_features'),
  };
}

async function fixtureTiles() {
  const img = await decodeImageNode(await readFile(join(fixtureDir('idefics3'), 'image.png')));
  return idefics3Preprocess(img, await fixturePre());
}

async function fixturePre() {
  return idefics3PreprocessConfig(JSON.parse(await readFile(join(fixtureDir('idefics3'), 'preprocessor_config.json'), 'utf8')));
}

describe('idefics3 fixture (SmolVLM: SigLIP tiles + pixel shuffle + connector + llama)', () => {
  it('preprocesses image.png into 2x2 tiles + the global image within 1e-4 of transformers', async () => {
    const exp = await expectedOf();
    const cfg = await fixturePre();
    expect(cfg).toMatchObject({ longestEdge: 64, tileSize: 32, filter: 'lanczos', precision: 'pil' });
    const img = await decodeImageNode(await readFile(join(fixtureDir('idefics3'), 'image.png')));
    expect(idefics3Layout(img.width, img.height, cfg)).toEqual({ resized: { width: 64, height: 54 }, split: { width: 64, height: 64 }, rows: 2, cols: 2 });
    const tiles = idefics3Preprocess(img, cfg);
    expect(tiles.count).toBe(5);
    expect(maxAbsDiff(tiles.pixels, exp.pixelValues)).toBeLessThan(1e-4);
  });

  it('lays out other images as Idefics3ImageProcessor: portrait, no split, small, splitting off', async () => {
    const cfg = idefics3PreprocessConfig({ size: { longest_edge: 1536 }, max_image_size: { longest_edge: 384 }, resample: 1 });
    expect(cfg).toMatchObject({ filter: 'bicubic', precision: 'torch' }); // the torchvision backend: LANCZOS runs as bicubic
    // 600 x 1000 → 922 x 1536 (921.6 truncated, made even) → 1152 x 1536 → 4 rows x 3 cols.
    expect(idefics3Layout(600, 1000, cfg)).toEqual({ resized: { width: 922, height: 1536 }, split: { width: 1152, height: 1536 }, rows: 4, cols: 3 });
    // A small image is scaled up to the longest edge too, then still split.
    expect(idefics3Layout(100, 50, cfg)).toMatchObject({ resized: { width: 1536, height: 768 }, rows: 2, cols: 4 });
    const one = { ...cfg, longestEdge: 384 };
    expect(idefics3Layout(300, 200, one)).toEqual({ resized: { width: 384, height: 256 }, split: { width: 384, height: 384 }, rows: 0, cols: 0 });
    expect(idefics3Layout(300, 200, { ...cfg, doImageSplitting: false })).toMatchObject({ rows: 0, cols: 0, split: { width: 384, height: 384 } });
    const px = idefics3Preprocess({ width: 3, height: 5, data: new Uint8Array(3 * 5 * 4).fill(255) }, { ...one, tileSize: 8, longestEdge: 8 });
    expect(px.count).toBe(1);
    expect(px.pixels.length).toBe(3 * 8 * 8);
    expect(Math.max(...px.pixels) - 1).toBeLessThan(1e-6); // white: (1 - 0.5) / 0.5
    expect(() => idefics3PreprocessConfig({ size: { shortest_edge: 10 } })).toThrow(InvalidModelError);
    expect(() => idefics3PreprocessConfig({ resample: 0 })).toThrow(/resample 0 is not supported/);
  });

  it("writes Idefics3Processor's text for an image: tiles row by row, then the global image", () => {
    const t = '<fake_token_around_image>';
    expect(idefics3ImagePrompt(0, 0, 2)).toBe(`${t}<global-img><image><image>${t}`);
    expect(idefics3ImagePrompt(1, 2, 1)).toBe(`${t}<row_1_col_1><image>${t}<row_1_col_2><image>\n\n${t}<global-img><image>${t}`);
  });

  it('normalises the config: text_config, vision_config, tokens per tile', async () => {
    const { config } = await loadWeightsAndConfig(fixtureFiles('idefics3'));
    if (!isIdefics3Config(config)) throw new Error('not an idefics3 config');
    expect(config.modelType).toBe('idefics3');
    expect(config.hiddenSize).toBe(64);
    expect(config.idefics3).toMatchObject({
      hiddenSize: 32,
      patchSize: 8,
      imageSize: 32,
      scaleFactor: 2,
      tokensPerTile: 4,
      imageTokenId: 5,
      activation: 'gelu_tanh',
      classToken: false,
    });
  });

  it('reproduces the tower output, image_features, the logits at every position and the greedy continuation', async () => {
    const ctx = await gpu();
    const exp = await expectedOf();
    const tiles = await fixtureTiles();
    const model = await load();
    try {
      expect(maxAbsDiff(await model.towerOutput(tiles.pixels, tiles.count), exp.visionHidden)).toBeLessThan(1e-3);
      expect(maxAbsDiff(await model.imageFeatures(tiles.pixels, tiles.count), exp.imageFeatures)).toBeLessThan(1e-3);
      model.setImages(exp.inputIds, [{ key: 'image.png', pixels: tiles.pixels, tiles: tiles.count }]);
      await expectPromptAndGreedy(ctx, model, exp);
      expect(model.imagesEncoded).toBe(2); // imageFeatures() + the prompt's image once
    } finally {
      model.dispose();
    }
  });

  it('forwards in chunks that split the tiles (maxChunk 7), and again from inside the image', async () => {
    const ctx = await gpu();
    const exp = await expectedOf();
    const tiles = await fixtureTiles();
    const model = await load({ maxChunk: 7 });
    try {
      model.setImages(exp.inputIds, [{ key: 'a', pixels: tiles.pixels, tiles: tiles.count }]);
      expect(maxAbsDiff(await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true })), exp.logits)).toBeLessThan(1e-3);
      const V = model.info.vocabSize;
      const again = await ctx.readF32(model.forward(exp.inputIds.slice(20), 20, { allLogits: true }));
      expect(maxAbsDiff(again, exp.logits.subarray(20 * V))).toBeLessThan(1e-3);
      expect(model.imagesEncoded).toBe(1);
    } finally {
      model.dispose();
    }
  });

  // Quantized at load (text and vision matrices in Q8_0): against the f32 reference, thresholds as models.quant.test.ts.
  it('q8_0: mean KL < 0.005 and top-1 >= 90% against the f32 logits', async () => {
    const ctx = await gpu();
    const exp = await expectedOf();
    const tiles = await fixtureTiles();
    const model = await load({ dtype: 'q8_0' });
    try {
      expect(model.info.weightDType).toBe('q8_0');
      model.setImages(exp.inputIds, [{ key: 'a', pixels: tiles.pixels, tiles: tiles.count }]);
      const r = compareLogits(exp.logits, await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true })), model.info.vocabSize);
      console.log(`idefics3 q8_0: mean KL ${r.meanKl.toFixed(5)}, top-1 ${(100 * r.top1).toFixed(1)}%`);
      expect(r.meanKl).toBeLessThan(0.005);
      expect(r.top1).toBeGreaterThanOrEqual(0.9);
    } finally {
      model.dispose();
    }
  });

  it('rejects a prompt whose image tokens do not match the images', async () => {
    const exp = await expectedOf();
    const tiles = await fixtureTiles();
    const model = await load();
    try {
      expect(() => model.setImages(exp.inputIds, [])).toThrow(InvalidArgumentError);
      const im = { key: 'a', pixels: tiles.pixels, tiles: tiles.count };
      expect(() => model.setImages(exp.inputIds, [im, { ...im, key: 'b' }])).toThrow(/20 image tokens \(id 5\) for 2 images, which take 40/);
    } finally {
      model.dispose();
    }
  });
});
