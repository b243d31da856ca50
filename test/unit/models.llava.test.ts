import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { buildLlava, LlavaModel } from '../../src/models/llava.js';
import { isLlavaConfig } from '../../src/models/llavaConfig.js';
import { loadWeightsAndConfig } from '../../src/models/load.js';
import type { WeightSource } from '../../src/weights/source.js';
import { compareLogits, fixtureFiles } from '../helpers/fixtures.js';
import { fixtureImagePixels, llavaExpected } from '../helpers/llava.js';
import { expectPromptAndGreedy } from '../helpers/golden.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/random.js';

async function load(maxContext = 64): Promise<LlavaModel> {
  const { config, weights } = await loadWeightsAndConfig(fixtureFiles('llava'));
  if (!isLlavaConfig(config)) throw new Error('not a llava config');
  return buildLlava(await gpu(), config, weights, { dtype: 'f32', maxContext });
}

// Tolerances (tests/fixtures/README.md): image_features and logits within 1e-3 of transformers (f32), greedy ids equal.
describe('llava fixture (CLIP vision tower + projector + llama)', () => {
  it('normalises the config: text_config, vision_config, image tokens', async () => {
    const { config } = await loadWeightsAndConfig(fixtureFiles('llava'));
    expect(isLlavaConfig(config)).toBe(true);
    if (!isLlavaConfig(config)) return;
    expect(config.modelType).toBe('llava');
    expect(config.hiddenSize).toBe(64);
    expect(config.vision).toMatchObject({
      hiddenSize: 32,
      patchSize: 8,
      imageSize: 32,
      layersToRun: 1,
      tokensPerImage: 16,
      imageTokenId: 511,
      activation: 'quick_gelu',
      projectorActivation: 'gelu_erf',
    });
  });

  it('reproduces image_features, the logits at every position and the greedy continuation', async () => {
    const ctx = await gpu();
    const exp = await llavaExpected();
    const wantFeatures = exp.imageFeatures;
    const model = await load();
    try {
      const pixels = await fixtureImagePixels();
      expect(maxAbsDiff(pixels, exp.pixelValues)).toBeLessThan(1e-4);
      expect(maxAbsDiff(await model.imageFeatures(pixels), wantFeatures)).toBeLessThan(1e-3);
      model.setImages(exp.inputIds, [{ key: 'image.png', pixels }]);
      await expectPromptAndGreedy(ctx, model, exp);
      expect(model.imagesEncoded).toBe(2); // imageFeatures() + the prompt's image once
    } finally {
      model.dispose();
    }
  });

  it('forwards in chunks that split the image tokens (maxChunk 7)', async () => {
    const ctx = await gpu();
    const exp = await llavaExpected();
    const { config, weights } = await loadWeightsAndConfig(fixtureFiles('llava'));
    if (!isLlavaConfig(config)) throw new Error('not llava');
    const model = await buildLlava(ctx, config, weights, { dtype: 'f32', maxContext: 64, maxChunk: 7 });
    try {
      model.setImages(exp.inputIds, [{ key: 'a', pixels: await fixtureImagePixels() }]);
      const logits = await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true }));
      expect(maxAbsDiff(logits, exp.logits)).toBeLessThan(1e-3);
      // The same prompt again from position 12 (inside the image): rows 7.. of its features.
      const V = model.info.vocabSize;
      const again = await ctx.readF32(model.forward(exp.inputIds.slice(12), 12, { allLogits: true }));
      expect(maxAbsDiff(again, exp.logits.subarray(12 * V))).toBeLessThan(1e-3);
      expect(model.imagesEncoded).toBe(1);
    } finally {
      model.dispose();
    }
  });

  it('loads the transformers-5 native tensor names too (model.language_model.*, model.vision_tower.vision_model.*, lm_head)', async () => {
    const ctx = await gpu();
    const exp = await llavaExpected();
    const { config, weights } = await loadWeightsAndConfig(fixtureFiles('llava'));
    if (!isLlavaConfig(config)) throw new Error('not llava');
    const rename = (n: string) =>
      n
        .replace(/^language_model\.model\./, 'model.language_model.')
        .replace(/^language_model\.lm_head\./, 'lm_head.')
        .replace(/^vision_tower\./, 'model.vision_tower.vision_model.')
        .replace(/^multi_modal_projector\./, 'model.multi_modal_projector.');
    const back = new Map([...weights.tensors.keys()].map((n) => [rename(n), n]));
    const renamed: WeightSource = {
      tensors: new Map([...weights.tensors].map(([n, info]) => [rename(n), { ...info, name: rename(n) }])),
      read: (n) => weights.read(back.get(n) ?? n),
      readRange: (n, o, l) => weights.readRange(back.get(n) ?? n, o, l),
    };
    const model = await buildLlava(ctx, config, renamed, { dtype: 'f32', maxContext: 64 });
    try {
      model.setImages(exp.inputIds, [{ key: 'a', pixels: await fixtureImagePixels() }]);
      expect(maxAbsDiff(await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true })), exp.logits)).toBeLessThan(1e-3);
    } finally {
      model.dispose();
    }
  });

  // Quantized at load (text and vision matrices in Q8_0): against the f32 reference, thresholds as models.quant.test.ts.
  it('q8_0: mean KL < 0.005 and top-1 >= 90% against the f32 logits', async () => {
    const ctx = await gpu();
    const exp = await llavaExpected();
    const { config, weights } = await loadWeightsAndConfig(fixtureFiles('llava'));
    if (!isLlavaConfig(config)) throw new Error('not llava');
    const model = await buildLlava(ctx, config, weights, { dtype: 'q8_0', maxContext: 64 });
    try {
      expect(model.info.weightDType).toBe('q8_0');
      model.setImages(exp.inputIds, [{ key: 'a', pixels: await fixtureImagePixels() }]);
      const logits = await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true }));
      const r = compareLogits(exp.logits, logits, model.info.vocabSize);
      console.log(`llava q8_0: mean KL ${r.meanKl.toFixed(5)}, top-1 ${(100 * r.top1).toFixed(1)}%`);
      expect(r.meanKl).toBeLessThan(0.005);
      expect(r.top1).toBeGreaterThanOrEqual(0.9);
    } finally {
      model.dispose();
    }
  });

  it('rejects a prompt whose image tokens do not match the images', async () => {
    const exp = await llavaExpected();
    const model = await load();
    try {
      expect(() => model.setImages(exp.inputIds, [])).toThrow(InvalidArgumentError);
      const px = await fixtureImagePixels();
      expect(() =>
        model.setImages(exp.inputIds, [
          { key: 'a', pixels: px },
          { key: 'b', pixels: px },
        ]),
      ).toThrow(/16 image tokens \(id 511\) for 2 images/);
    } finally {
      model.dispose();
    }
  });
});
