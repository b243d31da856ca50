import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clipPreprocess, clipPreprocessConfig } from '../../src/image/preprocess.js';
import { decodeImageNode } from '../../src/node/imageDecode.js';
import { editedFixture, expectedTensors, fixtureDir } from './fixtures.js';

/** test/fixtures/llava/expected.safetensors: the prompt (16 image tokens), logits, greedy ids, pixel_values, image_features. */
export interface LlavaExpected {
  inputIds: number[];
  logits: Float32Array; // [T, V]
  greedyIds: number[];
  pixelValues: Float32Array; // [3, 32, 32]
  imageFeatures: Float32Array; // [16, 64]
}

export async function llavaExpected(): Promise<LlavaExpected> {
  const t = await expectedTensors('llava');
  return {
    inputIds: t.ids('input_ids'),
    logits: t.f32('logits'),
    greedyIds: t.ids('greedy_ids'),
    pixelValues: t.f32('pixel_values'),
    imageFeatures: t.f32('image_features'),
  };
}

export const llavaImagePath = () => join(fixtureDir('llava'), 'image.png');

/** pixel_values of the fixture's image.png as weblm computes them (pngjs + the preprocessor config). */
export async function fixtureImagePixels(): Promise<Float32Array> {
  const cfg = clipPreprocessConfig(JSON.parse(await readFile(join(fixtureDir('llava'), 'preprocessor_config.json'), 'utf8')));
  return clipPreprocess(await decodeImageNode(await readFile(llavaImagePath())), cfg).pixels;
}

/**
 * A temporary copy of the llava fixture with a tokenizer (the byte-level one plus `<image>` at 511) and
 * llava-1.5's chat template in chat_template.json, as llava-hf repos keep it.
 */
export async function llavaWithTokenizer(): Promise<string> {
  const { llavaTokenizerConfig, llavaTokenizerJson, LLAVA_CHAT_TEMPLATE } = await import('../e2e/pages/llavaTokenizer.js');
  return editedFixture('llava', async (d) => {
    for (const f of ['preprocessor_config.json', 'image.png']) await copyFile(join(fixtureDir('llava'), f), join(d, f));
    await writeFile(join(d, 'tokenizer.json'), JSON.stringify(llavaTokenizerJson()));
    await writeFile(join(d, 'tokenizer_config.json'), JSON.stringify(llavaTokenizerConfig()));
    await writeFile(join(d, 'chat_template.json'), JSON.stringify({ chat_template: LLAVA_CHAT_TEMPLATE }));
  });
}
