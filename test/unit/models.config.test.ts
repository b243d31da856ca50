import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidModelError, UnsupportedModelError } from '../../src/errors.js';
import { normalizeConfig } from '../../src/models/registry.js';
import { fixtureDir } from '../helpers/fixtures.js';

const raw = (name: string) => JSON.parse(readFileSync(join(fixtureDir(name), 'config.json'), 'utf8'));

describe('config normalisation', () => {
  it('llama: transformers 5 rope_parameters and the older rope_theta / rope_scaling read the same', () => {
    const v5 = normalizeConfig(raw('llama'));
    const { rope_parameters: _, ...old } = raw('llama');
    const v4 = normalizeConfig({ ...old, rope_theta: 10000 });
    expect(v5.rope.full).toEqual({ rope_type: 'default', rope_theta: 10000 });
    expect(v4.rope.full).toEqual(v5.rope.full);
    expect(v5).toMatchObject({ numHeads: 4, numKvHeads: 2, headDim: 16, layerTypes: ['full', 'full'], qkvBias: false, qkNorm: false });
    const scaled = normalizeConfig({
      ...old,
      rope_theta: 500000,
      rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    });
    expect(scaled.rope.full).toMatchObject({ rope_type: 'llama3', rope_theta: 500000, factor: 32 });
    const legacyType = normalizeConfig({ ...old, rope_scaling: { type: 'linear', factor: 2 } });
    expect(legacyType.rope.full).toMatchObject({ rope_type: 'linear', rope_theta: 10000, factor: 2 });
  });

  it('qwen2 has q/k/v biases and tied embeddings; qwen3 per-head q/k norms and its own head_dim', () => {
    expect(normalizeConfig(raw('qwen2'))).toMatchObject({ qkvBias: true, oBias: false, tieWordEmbeddings: true });
    expect(normalizeConfig(raw('qwen3'))).toMatchObject({ qkNorm: true, headDim: 32, hiddenSize: 64 });
    const old = { ...raw('qwen2'), layer_types: undefined, use_sliding_window: true, sliding_window: 4, max_window_layers: 1 };
    expect(normalizeConfig(old).layerTypes).toEqual(['full', 'sliding']);
  });

  it('mistral: every layer slides when sliding_window is set', () => {
    expect(normalizeConfig(raw('mistral_swa'))).toMatchObject({ slidingWindow: 8, layerTypes: ['sliding', 'sliding'] });
    expect(normalizeConfig({ ...raw('mistral_swa'), sliding_window: null }).layerTypes).toEqual(['full', 'full']);
  });

  it('gemma3_text: layer types, per-type RoPE, norms and scalings, in both config styles', () => {
    const c = normalizeConfig(raw('gemma3_text'));
    expect(c).toMatchObject({
      layerTypes: ['sliding', 'sliding', 'full'],
      slidingWindow: 6,
      normWeightOffset: 1,
      sandwichNorms: true,
      qkNorm: true,
      activation: 'gelu_tanh',
      embedScale: 8,
      attentionScale: 0.25,
      tieWordEmbeddings: true,
    });
    expect(c.rope.sliding.rope_theta).toBe(1000);
    expect(c.rope.full.rope_theta).toBe(10000);
    const { rope_parameters: _, layer_types: __, ...rest } = raw('gemma3_text');
    const old = normalizeConfig({ ...rest, sliding_window_pattern: 3, rope_theta: 10000, rope_local_base_freq: 1000 });
    expect(old.layerTypes).toEqual(c.layerTypes);
    expect(old.rope).toEqual(c.rope);
  });

  it('names a missing or unsupported model_type and missing fields', () => {
    const { model_type: _, ...none } = raw('llama');
    expect(() => normalizeConfig(none)).toThrow(InvalidModelError);
    expect(() => normalizeConfig(none)).toThrow(/no model_type/);
    expect(() => normalizeConfig({ ...raw('llama'), model_type: 'rwkv' })).toThrow(UnsupportedModelError);
    expect(() => normalizeConfig({ ...raw('llama'), model_type: 'rwkv' })).toThrow(/model_type rwkv is not supported \(supported: .*llama/);
    const { hidden_size: __, ...noHidden } = raw('llama');
    expect(() => normalizeConfig(noHidden)).toThrow(/no hidden_size/);
    expect(() => normalizeConfig({ ...raw('llama'), num_key_value_heads: 3 })).toThrow(/not a multiple/);
  });

  it('takes eos / bos from generation_config.json first', () => {
    const c = normalizeConfig(raw('llama'), { eos_token_id: [2, 7], bos_token_id: 1 });
    expect(c.eosTokenIds).toEqual([2, 7]);
    expect(c.bosTokenId).toBe(1);
  });
});
