import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Engine, GenerateChunk } from '../../src/engine/types.js';
import { clipPreprocess, clipPreprocessConfig } from '../../src/image/preprocess.js';
import { buildLlava } from '../../src/models/llava.js';
import { isLlavaConfig } from '../../src/models/llavaConfig.js';
import { loadWeightsAndConfig } from '../../src/models/load.js';
import { main } from '../../src/node/cliRun.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { decodeImageNode } from '../../src/node/imageDecode.js';
import { createNodeEngine } from '../../src/node/nodeEngine.js';
import { readSafetensorsFile } from '../../src/weights/safetensors.js';
import { compareLogits } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/random.js';

// models/tiny-fashion-vlm: the bundled vision model (models/tiny-fashion-vlm/README.md), a llava trained on
// Fashion-MNIST. Checked against transformers' outputs (reference/) and for meaning on held-out test images.
const DIR = join(import.meta.dirname, '../../models/tiny-fashion-vlm');
const TESTSET = join(DIR, 'testset');
const IM_END = 2;

interface Case {
  case: number;
  image: string;
  label: number;
  question: string;
  answer: string;
}
interface Reference {
  inputIds: number[];
  pixelValues: Float32Array; // [3, 28, 28]
  logits: Float32Array; // [T, V]
  imageFeatures: Float32Array; // [49, 128]
  greedyIds: number[]; // up to and with <|im_end|>
}

const CASES = (JSON.parse(readFileSync(join(DIR, 'reference/expected.json'), 'utf8')) as { cases: Case[] }).cases;
const LABELS = JSON.parse(readFileSync(join(TESTSET, 'labels.json'), 'utf8')) as Record<string, { label: number; name: string }>;

async function reference(k: number): Promise<Reference> {
  const t = await readSafetensorsFile(await folderFiles(join(DIR, 'reference')).open('expected.safetensors'), 'reference/expected.safetensors');
  const get = (n: string) => t.get(`case${k}.${n}`)!.data.slice().buffer;
  return {
    inputIds: Array.from(new Int32Array(get('input_ids'))),
    pixelValues: new Float32Array(get('pixel_values')),
    logits: new Float32Array(get('logits')),
    imageFeatures: new Float32Array(get('image_features')),
    greedyIds: Array.from(new Int32Array(get('greedy_ids'))),
  };
}

/** pixel_values of a testset PNG as weblm computes them (pngjs + the folder's preprocessor_config.json). */
async function pixelsOf(file: string): Promise<Float32Array> {
  const cfg = clipPreprocessConfig(JSON.parse(await readFile(join(DIR, 'preprocessor_config.json'), 'utf8')));
  return clipPreprocess(await decodeImageNode(await readFile(join(TESTSET, file))), cfg).pixels;
}

/** The class an answer names, most specific first (the same as tools/bundled/train_fashion_vlm.py's class_of). */
const KEYWORDS: [number, string][] = [
  [0, 't-shirt'],
  [9, 'ankle boot'],
  [1, 'trousers'],
  [2, 'pullover'],
  [3, 'dress'],
  [4, 'coat'],
  [5, 'sandal'],
  [6, 'shirt'],
  [7, 'sneaker'],
  [8, 'bag'],
];
const classOf = (answer: string) => KEYWORDS.find(([, k]) => answer.toLowerCase().includes(k))?.[0];

async function loadF32(dtype: 'f32' | 'q8_0' | 'q4_0') {
  const { config, weights } = await loadWeightsAndConfig(folderFiles(DIR));
  if (!isLlavaConfig(config)) throw new Error('not a llava config');
  return buildLlava(await gpu(), config, weights, { dtype, maxContext: 96 });
}

describe('models/tiny-fashion-vlm against transformers (reference/, f32)', () => {
  it('pixel_values, image features and the logits at every prompt position within 1e-3', { timeout: 300_000 }, async () => {
    const ctx = await gpu();
    const model = await loadF32('f32');
    try {
      expect(model.config.vision).toMatchObject({ imageSize: 28, patchSize: 4, tokensPerImage: 49, layersToRun: 4, imageTokenId: 3 });
      for (const c of CASES) {
        const ref = await reference(c.case);
        const px = await pixelsOf(c.image);
        expect(maxAbsDiff(px, ref.pixelValues)).toBeLessThan(1e-5);
        expect(maxAbsDiff(await model.imageFeatures(px), ref.imageFeatures)).toBeLessThan(1e-3);
        model.setImages(ref.inputIds, [{ key: c.image, pixels: px }]);
        const logits = await ctx.readF32(model.forward(ref.inputIds, 0, { allLogits: true }));
        expect(maxAbsDiff(logits, ref.logits), `case ${c.case}`).toBeLessThan(1e-3);
      }
    } finally {
      model.dispose();
    }
  });

  // Quantized at load (text and vision matrices), against transformers' f32 logits: the thresholds of models.quant.test.ts.
  it.each([
    ['q8_0', { meanKl: 0.005, top1: 0.9 }],
    ['q4_0', { meanKl: 0.1, top1: 0.66 }],
  ] as const)('%s: mean KL and top-1 agreement against the f32 logits', { timeout: 300_000 }, async (dtype, limit) => {
    const ctx = await gpu();
    const model = await loadF32(dtype);
    try {
      // The patch embedding (K = 3 x 4 x 4 = 48, not a whole number of 32-blocks) stays as stored: 'mixed'.
      expect(model.text.info.weightDType).toBe(dtype);
      expect(model.info.weightDType).toBe('mixed');
      const c = CASES[0]!;
      const ref = await reference(c.case);
      model.setImages(ref.inputIds, [{ key: c.image, pixels: await pixelsOf(c.image) }]);
      const logits = await ctx.readF32(model.forward(ref.inputIds, 0, { allLogits: true }));
      const r = compareLogits(ref.logits, logits, model.info.vocabSize);
      console.log(`tiny-fashion-vlm ${dtype}: mean KL ${r.meanKl.toFixed(5)}, top-1 ${(100 * r.top1).toFixed(1)}% of ${ref.inputIds.length}`);
      expect(r.meanKl).toBeLessThan(limit.meanKl);
      expect(r.top1).toBeGreaterThanOrEqual(limit.top1);
    } finally {
      model.dispose();
    }
  });
});

async function collect(it: AsyncIterable<GenerateChunk>): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

// How many held-out images the engine is asked about: the first 2 of each class in labels.json's order (PyTorch
// names 18 of these 20 right, training/eval.json; all 100: 90). On the shared 2-core machine under load SwiftShader
// took about 20 s an image (35/40 with 4 of each class, the same 5 wrong as PyTorch, in 900 s): 20 keep it shorter.
const PER_CLASS = 2;

describe('models/tiny-fashion-vlm through the public Node engine (f16 weights as stored)', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = createNodeEngine();
    const info = await engine.load(DIR, { dtype: 'f32' });
    expect(info).toMatchObject({ modelType: 'llava', hasTokenizer: true, hasChatTemplate: true });
    expect(info.vision).toMatchObject({ imageSize: 28, tokensPerImage: 49 });
  });
  afterAll(async () => engine?.dispose());

  it('reproduces transformers’ greedy answers (token ids) of the reference prompts', { timeout: 300_000 }, async () => {
    for (const c of CASES) {
      const ref = await reference(c.case);
      const png = new Uint8Array(await readFile(join(TESTSET, c.image)));
      const chunks = await collect(engine.generate({ ids: ref.inputIds, images: [png] }, { temperature: 0, maxTokens: 12 }));
      const ids = chunks.flatMap((ch) => ch.tokenIds);
      expect(
        ids.filter((t) => t !== IM_END),
        `case ${c.case}`,
      ).toEqual(ref.greedyIds.filter((t) => t !== IM_END));
      expect(chunks.map((ch) => ch.text).join('')).toBe(c.answer);
    }
  });

  it(`names the garment of >= 80% of ${PER_CLASS * 10} held-out test images ("What is in this picture?")`, { timeout: 900_000 }, async () => {
    const files = Object.keys(LABELS).sort();
    const sample = Array.from({ length: 10 }, (_, c) => files.filter((f) => LABELS[f]!.label === c).slice(0, PER_CLASS)).flat();
    let right = 0;
    const wrong: string[] = [];
    for (const f of sample) {
      const res = await engine.chat.completions.create({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image_url', image_url: { url: join(TESTSET, f) } },
              { type: 'text', text: 'What is in this picture?' },
            ],
          },
        ],
        temperature: 0,
        max_tokens: 12,
      });
      const answer = res.choices[0]!.message.content ?? '';
      if (classOf(answer) === LABELS[f]!.label) right++;
      else wrong.push(`${f} (${LABELS[f]!.name}): ${JSON.stringify(answer)}`);
    }
    console.log(`tiny-fashion-vlm: ${right}/${sample.length} test images named right; wrong: ${wrong.join('; ') || 'none'}`);
    expect(right / sample.length).toBeGreaterThanOrEqual(0.8);
  });
});

describe('weblm run --model models/tiny-fashion-vlm --image <test image> --prompt ...', () => {
  it('answers "What is in this picture?" about a held-out sneaker', { timeout: 300_000 }, async () => {
    const sneaker = Object.keys(LABELS).find((f) => LABELS[f]!.label === 7)!;
    const ask = async (prompt: string) => {
      const lines: string[] = [];
      const log = vi.spyOn(console, 'log').mockImplementation((s: string) => void lines.push(s));
      try {
        expect(await main(['--model', DIR, '--image', join(TESTSET, sneaker), '--prompt', prompt, '--max-new-tokens', '12', '--temperature', '0'])).toBe(0);
      } finally {
        log.mockRestore();
      }
      // the CLI prints the answer, then a JSON summary
      return { text: lines.at(-2)!, ...(JSON.parse(lines.at(-1)!) as { model_type: string }) };
    };
    const what = await ask('What is in this picture?');
    expect(what.model_type).toBe('llava');
    expect(what.text).toBe('A sneaker.');
  });
});
