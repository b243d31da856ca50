import { InvalidModelError } from '../errors.js';
import type { ConfigReader, ModelConfig, RawConfig } from './config.js';
import type { Family } from './family.js';
import { visionTowerDims, type VisionTowerDims } from './visionTowerConfig.js';

/** The vision side of Idefics3 (SmolVLM): a SigLIP tower over square tiles, pixel shuffle, the connector. */
export interface Idefics3VisionConfig extends VisionTowerDims {
  /** Pixel shuffle factor: s x s patches become one token. */
  readonly scaleFactor: number;
  readonly imageTokenId: number;
  /** Image tokens one tile fills: (imageSize / patchSize)^2 / scaleFactor^2. */
  readonly tokensPerTile: number;
}

/** An Idefics3 config: the text model's fields (model_type 'idefics3'), the text config, the vision config. */
export interface Idefics3ModelConfig extends ModelConfig {
  readonly text: ModelConfig;
  readonly idefics3: Idefics3VisionConfig;
}

export const isIdefics3Config = (c: ModelConfig): c is Idefics3ModelConfig => 'idefics3' in c && 'text' in c;

/** Idefics3VisionConfig's defaults. */
const SIGLIP_DEFAULTS = {
  hidden_size: 1152,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 16,
  num_channels: 3,
  image_size: 224,
  patch_size: 32,
  layer_norm_eps: 1e-6,
  hidden_act: 'gelu_pytorch_tanh',
};

function visionConfig(c: ConfigReader): Idefics3VisionConfig {
  const tower = visionTowerDims(c, 'idefics3_vision', SIGLIP_DEFAULTS, 'gelu_pytorch_tanh');
  const scaleFactor = c.int('scale_factor', 2);
  const side = tower.imageSize / tower.patchSize;
  if (scaleFactor < 1 || side % scaleFactor !== 0) {
    throw new InvalidModelError(`${c.where}: scale_factor ${scaleFactor} does not divide the ${side} x ${side} patches of a tile`);
  }
  return {
    ...tower,
    classToken: false,
    scaleFactor,
    imageTokenId: c.int('image_token_id', 128257),
    tokensPerTile: (side / scaleFactor) ** 2,
  };
}

/** `idefics3` (SmolVLM): text_config normalised through its own family (llama), vision_config read here. */
export const idefics3: Family = {
  modelTypes: ['idefics3'],
  baseConfig(c, generation, normalize) {
    const textRaw = { model_type: 'llama', ...((c.raw.text_config ?? {}) as RawConfig) };
    const text = normalize(textRaw, generation, `${c.where} (text_config)`);
    const config: Idefics3ModelConfig = { ...text, modelType: 'idefics3', raw: c.raw, text, idefics3: visionConfig(c) };
    return config;
  },
  configure: (_c, base) => base,
};
