import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { qwen2vlPreprocess, qwen2vlPreprocessConfig, type Qwen2VLPatches } from '../../src/image/qwen2vl.js';
import { loadWeightsAndConfig } from '../../src/models/load.js';
import { buildQwen2VL, type Qwen2VLModel } from '../../src/models/qwen2vl.js';
import { isQwen2VLConfig } from '../../src/models/qwen2vlConfig.js';
import { mropePositions } from '../../src/models/qwen2vlRope.js';
import { decodeImageNode } from '../../src/node/imageDecode.js';
import { readSafetensorsFile } from '../../src/weights/safetensors.js';
import { fixtureDir, fixtureFiles } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/random.js';

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

  it("computes get_rope_index's 3-row positions and rope_delta as the model's rotary got them", async () => {
    const exp = await expectedOf();
    const { rows, delta } = mropePositions(exp.inputIds, [{ t: 1, h: 4, w: 6 }], 6, 2);
    expect(Array.from(rows)).toEqual(exp.positionIds);
    expect(delta).toBe(-3);
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
});
