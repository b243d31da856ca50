import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { qwen2vlPreprocess, qwen2vlPreprocessConfig, type Qwen2VLPatches } from '../../src/image/qwen2vl.js';
import { loadWeightsAndConfig } from '../../src/models/load.js';
import { buildQwen2VL, type Qwen2VLModel } from '../../src/models/qwen2vl.js';
import { isQwen2VLConfig } from '../../src/models/qwen2vlConfig.js';
import { normalizeConfig } from '../../src/models/registry.js';
import { mropePositions } from '../../src/models/qwen2vlRope.js';
import { expandQwen2VLTokens } from '../../src/engine/promptImages.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { decodeImageNode } from '../../src/node/imageDecode.js';
import { readSafetensorsFile } from '../../src/weights/safetensors.js';
import { compareLogits, fixtureDir, fixtureFiles } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/random.js';

const argmax = (a: Float32Array) => a.reduce((best, v, i) => (v > a[best]! ? i : best), 0);

async function load(opts: { maxChunk?: number; dtype?: 'f32' | 'q8_0' } = {}): Promise<Qwen2VLModel> {
  const { config, weights } = await loadWeightsAndConfig(fixtureFiles('qwen2_vl'));
  if (!isQwen2VLConfig(config)) throw new Error('not a qwen2_vl config');
  return buildQwen2VL(await gpu(), config, weights, { dtype: opts.dtype ?? 'f32', maxContext: 96, maxChunk: opts.maxChunk });
}

async function expectedOf() {
  const t = await readSafetensorsFile(await fixtureFiles('qwen2_vl').open('expected.safetensors'), 'qwen2_vl/expected.safetensors');
  const f32 = (k: string) => new Float32Array(t.get(k)!.data.slice().buffer);
  const i32 = (k: string) => Array.from(new Int32Array(t.get(k)!.data.slice().buffer));
  return {
    inputIds: i32('input_ids'),
    logits: f32('logits'),
    finalLogits: f32('final_logits'),
    greedyIds: i32('greedy_ids'),
    positionIds: i32('position_ids'),
    patchEmbeds: f32('patch_embeds'),
    visionHidden: [f32('vision_hidden.0'), f32('vision_hidden.1')],
    imageFeatures: f32('image_features'),
    hidden: [0, 1, 2].map((i) => f32(`hidden.${i}`)),
  };
}

async function fixturePatches(): Promise<Qwen2VLPatches> {
  const dir = fixtureDir('qwen2_vl');
  const cfg = qwen2vlPreprocessConfig(JSON.parse(await readFile(join(dir, 'preprocessor_config.json'), 'utf8')));
  return qwen2vlPreprocess(await decodeImageNode(await readFile(join(dir, 'image.png'))), cfg);
}

describe('qwen2_vl fixture (Qwen2-VL: 2-D rotary vision tower + patch merger + qwen2 with M-RoPE)', () => {
  it('normalises the config: text from text_config, vision_config, mrope_section', async () => {
    const { config } = await loadWeightsAndConfig(fixtureFiles('qwen2_vl'));
    if (!isQwen2VLConfig(config)) throw new Error('not a qwen2_vl config');
    expect(config).toMatchObject({ modelType: 'qwen2_vl', hiddenSize: 64, headDim: 16, qkvBias: true, tieWordEmbeddings: true, mropeSection: [2, 3, 3] });
    expect(config.qwen2vl).toMatchObject({
      hiddenSize: 32,
      numHeads: 2,
      headDim: 16,
      intermediateSize: 64,
      depth: 2,
      numChannels: 6,
      mergeSize: 2,
      outSize: 64,
    });
    expect(config.qwen2vl).toMatchObject({ activation: 'quick_gelu', imageTokenId: 6, visionStartTokenId: 3 });
  });

  it("reads a Hub-style config (Qwen2-VL-2B-Instruct's: text keys at the top level, rope_scaling of type mrope, in_chans)", () => {
    const c = normalizeConfig({
      model_type: 'qwen2_vl',
      hidden_size: 1536,
      intermediate_size: 8960,
      num_hidden_layers: 28,
      num_attention_heads: 12,
      num_key_value_heads: 2,
      vocab_size: 151936,
      rope_theta: 1000000.0,
      rope_scaling: { type: 'mrope', mrope_section: [16, 24, 24] },
      tie_word_embeddings: true,
      image_token_id: 151655,
      vision_start_token_id: 151652,
      vision_config: { depth: 32, embed_dim: 1280, hidden_size: 1536, hidden_act: 'quick_gelu', mlp_ratio: 4, num_heads: 16, in_chans: 3, patch_size: 14 },
    });
    if (!isQwen2VLConfig(c)) throw new Error('not a qwen2_vl config');
    expect(c).toMatchObject({ headDim: 128, numKvHeads: 2, qkvBias: true, tieWordEmbeddings: true, mropeSection: [16, 24, 24] });
    expect(c.text.rope.full).toMatchObject({ rope_type: 'default', rope_theta: 1000000 });
    expect(c.qwen2vl).toMatchObject({ headDim: 80, intermediateSize: 5120, numChannels: 6, outSize: 1536, imageTokenId: 151655 });
    expect(() => normalizeConfig({ ...c.raw, rope_scaling: { type: 'mrope', mrope_section: [16, 24, 20] } })).toThrow(/mrope_section/);
  });

  it("computes get_rope_index's 3-row positions and rope_delta as the model's rotary got them", async () => {
    const exp = await expectedOf();
    const { rows, delta } = mropePositions(exp.inputIds, [{ t: 1, h: 4, w: 6 }], 6, 2);
    expect(Array.from(rows)).toEqual(exp.positionIds);
    expect(delta).toBe(-3);
    // Two images with text between: each image from the position after the text before it, text after at its max + 1.
    const I = 6;
    const two = mropePositions(
      [9, 9, I, I, I, I, 9, I, I, I, 9],
      [
        { t: 1, h: 4, w: 4 },
        { t: 1, h: 2, w: 6 },
      ],
      I,
      2,
    );
    expect(Array.from(two.rows.subarray(0, 11))).toEqual([0, 1, 2, 2, 2, 2, 4, 5, 5, 5, 8]);
    expect(Array.from(two.rows.subarray(11, 22))).toEqual([0, 1, 2, 2, 3, 3, 4, 5, 5, 5, 8]);
    expect(Array.from(two.rows.subarray(22))).toEqual([0, 1, 2, 3, 2, 3, 4, 5, 6, 7, 8]);
    expect(two.delta).toBe(-2);
  });

  it('reproduces the vision tower (each block) and image_features within 1e-3', async () => {
    const exp = await expectedOf();
    const { pixels, grid } = await fixturePatches();
    const model = await load();
    try {
      expect(maxAbsDiff(await model.towerOutput(pixels, grid), exp.visionHidden[1]!)).toBeLessThan(1e-3);
      expect(maxAbsDiff(await model.imageFeatures(pixels, grid), exp.imageFeatures)).toBeLessThan(1e-3);
    } finally {
      model.dispose();
    }
  });

  it('reproduces the hidden states layer by layer, the logits at every position, the greedy continuation and the final logits', async () => {
    const ctx = await gpu();
    const exp = await expectedOf();
    const { pixels, grid } = await fixturePatches();
    const model = await load();
    try {
      model.setImages(exp.inputIds, [{ key: 'image.png', pixels, grid }]);
      const hidden: Float32Array[] = [];
      const reads: Promise<void>[] = [];
      model.text.hiddenHook = (layer, h) => {
        const copy = ctx.createTensor(h.shape, 'f32');
        ctx.copy(h, copy, h.shape[0]! * h.shape[1]! * 4);
        reads.push(ctx.readF32(copy).then((a) => void (hidden[layer] = a)));
      };
      const logits = await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true }));
      model.text.hiddenHook = undefined;
      await Promise.all(reads);
      // hidden.0 is the embeddings with the image features in place; the last one is after the final norm (not hooked).
      for (let i = 0; i < 2; i++) expect(maxAbsDiff(hidden[i]!, exp.hidden[i]!), `hidden.${i}`).toBeLessThan(1e-3);
      expect(maxAbsDiff(logits, exp.logits)).toBeLessThan(1e-3);
      const T = exp.inputIds.length;
      const V = model.info.vocabSize;
      const ids: number[] = [argmax(logits.subarray((T - 1) * V))];
      let last: Float32Array = new Float32Array(0);
      while (ids.length <= exp.greedyIds.length) {
        last = await ctx.readF32(model.forward([ids.at(-1)!], T + ids.length - 1));
        if (ids.length < exp.greedyIds.length) ids.push(argmax(last));
        else break;
      }
      expect(ids).toEqual(exp.greedyIds);
      // The last forward fed the last greedy id at T + 15 (position + rope_delta): the fixture's final_logits.
      expect(maxAbsDiff(last, exp.finalLogits)).toBeLessThan(1e-3);
      expect(model.imagesEncoded).toBe(1);
    } finally {
      model.dispose();
    }
  });

  it('forwards in chunks that split the image (maxChunk 7), and again from inside the image', async () => {
    const ctx = await gpu();
    const exp = await expectedOf();
    const { pixels, grid } = await fixturePatches();
    const model = await load({ maxChunk: 7 });
    try {
      model.setImages(exp.inputIds, [{ key: 'a', pixels, grid }]);
      expect(maxAbsDiff(await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true })), exp.logits)).toBeLessThan(1e-3);
      const V = model.info.vocabSize;
      const from = exp.inputIds.indexOf(6) + 2;
      const again = await ctx.readF32(model.forward(exp.inputIds.slice(from), from, { allLogits: true }));
      expect(maxAbsDiff(again, exp.logits.subarray(from * V))).toBeLessThan(1e-3);
      expect(model.imagesEncoded).toBe(1);
    } finally {
      model.dispose();
    }
  });

  // Quantized at load (the text and vision matrices whose rows are whole Q8_0 blocks; the 1176-wide patch GEMM stays f32).
  it('q8_0: mean KL < 0.005 and top-1 >= 90% against the f32 logits', async () => {
    const ctx = await gpu();
    const exp = await expectedOf();
    const { pixels, grid } = await fixturePatches();
    const model = await load({ dtype: 'q8_0' });
    try {
      expect(model.info.weightDType).toBe('mixed');
      model.setImages(exp.inputIds, [{ key: 'a', pixels, grid }]);
      const r = compareLogits(exp.logits, await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true })), model.info.vocabSize);
      console.log(`qwen2_vl q8_0: mean KL ${r.meanKl.toFixed(5)}, top-1 ${(100 * r.top1).toFixed(1)}%`);
      expect(r.meanKl).toBeLessThan(0.005);
      expect(r.top1).toBeGreaterThanOrEqual(0.9);
    } finally {
      model.dispose();
    }
  });

  it("expands each <|image_pad|> to its image's merged patches, and rejects image tokens that do not match the images", async () => {
    const { config } = await loadWeightsAndConfig(fixtureFiles('qwen2_vl'));
    if (!isQwen2VLConfig(config)) throw new Error('not a qwen2_vl config');
    const exp = await expectedOf();
    const grid = { t: 1, h: 4, w: 6, resized: { width: 84, height: 56 } };
    const first = exp.inputIds.indexOf(6);
    const one = [...exp.inputIds.slice(0, first + 1), ...exp.inputIds.slice(first + 6)];
    expect(expandQwen2VLTokens(one, [grid], config.qwen2vl)).toEqual(exp.inputIds);
    expect(expandQwen2VLTokens(exp.inputIds, [grid], config.qwen2vl)).toEqual(exp.inputIds);
    expect(() => expandQwen2VLTokens(one, [grid, grid], config.qwen2vl)).toThrow(/1 image tokens \(id 6\) for 2 images/);
    expect(() => mropePositions(exp.inputIds, [], 6, 2)).toThrow(InvalidArgumentError);
    expect(() => mropePositions(exp.inputIds, [{ t: 1, h: 4, w: 8 }], 6, 2)).toThrow(/takes 8 image tokens/);
  });
});
