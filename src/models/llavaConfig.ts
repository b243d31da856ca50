import { InvalidModelError, UnsupportedModelError } from '../errors.js';
import type { Activation } from '../kernels/elementwise.js';
import type { ConfigReader, ModelConfig, RawConfig } from './config.js';
import type { Family } from './family.js';
import { visionTowerDims, type VisionTowerDims } from './visionTowerConfig.js';

/** The vision side of a LLaVA-style model: a CLIP ViT, which hidden state it hands on, the projector. */
export interface VisionConfig extends VisionTowerDims {
  /** Encoder layers that run: the selected hidden state is the output of the last of them (0: the embeddings). */
  readonly layersToRun: number;
  /** 'default' drops the class token's row, 'full' keeps it. */
  readonly selectStrategy: 'default' | 'full';
  readonly projectorActivation: Activation;
  readonly imageTokenId: number;
  /** Image tokens one image fills in the prompt (its feature rows). */
  readonly tokensPerImage: number;
}

/** A LLaVA config: the text model's fields (a ModelConfig of model_type 'llava'), the text config itself, the vision config. */
export interface LlavaModelConfig extends ModelConfig {
  readonly text: ModelConfig;
  readonly vision: VisionConfig;
}

export const isLlavaConfig = (c: ModelConfig): c is LlavaModelConfig => 'vision' in c && 'text' in c;

/** LlamaConfig's defaults: llava-hf checkpoints leave them out of text_config. */
const LLAMA_DEFAULTS = { hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, vocab_size: 32000 };

/** CLIPVisionConfig's defaults. */
const CLIP_DEFAULTS = {
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  image_size: 224,
  patch_size: 32,
  num_channels: 3,
  layer_norm_eps: 1e-5,
  hidden_act: 'quick_gelu',
};

function visionConfig(c: ConfigReader): VisionConfig {
  const tower = visionTowerDims(c, 'clip_vision_model', CLIP_DEFAULTS, 'quick_gelu');
  const { numLayers, imageSize, patchSize } = tower;
  const layer = c.raw.vision_feature_layer ?? -2;
  if (typeof layer !== 'number' || !Number.isInteger(layer)) {
    throw new UnsupportedModelError(`${c.where}: vision_feature_layer ${JSON.stringify(layer)} is not supported (one layer index)`);
  }
  // hidden_states = (embeddings after the pre-norm, layer 1 .. layer L): index L + 1 + layer when negative.
  const layersToRun = layer < 0 ? numLayers + 1 + layer : layer;
  if (layersToRun < 0 || layersToRun > numLayers) throw new InvalidModelError(`${c.where}: vision_feature_layer ${layer} is outside the ${numLayers} layers`);
  const strategy = c.raw.vision_feature_select_strategy ?? 'default';
  if (strategy !== 'default' && strategy !== 'full')
    throw new UnsupportedModelError(`${c.where}: vision_feature_select_strategy ${String(strategy)} is not supported (default, full)`);
  const patches = (imageSize / patchSize) ** 2;
  const tokensPerImage = strategy === 'default' ? patches : patches + 1;
  const seq = c.raw.image_seq_length;
  if (typeof seq === 'number' && seq !== tokensPerImage) {
    throw new InvalidModelError(
      `${c.where}: image_seq_length ${seq} differs from the ${tokensPerImage} features the vision tower gives (${patches} patches, ${strategy})`,
    );
  }
  const imageTokenId = c.has('image_token_index') ? c.int('image_token_index') : c.int('image_token_id', 32000);
  return {
    ...tower,
    layersToRun,
    selectStrategy: strategy,
    projectorActivation: c.activation(['projector_hidden_act'], 'gelu'),
    imageTokenId,
    tokensPerImage,
  };
}

/** `llava`: text_config normalised through its own family, vision_config read here. */
export const llava: Family = {
  modelTypes: ['llava'],
  baseConfig(c, generation, normalize) {
    const textRaw = { model_type: 'llama', ...((c.raw.text_config ?? {}) as RawConfig) };
    const filled = textRaw.model_type === 'llama' ? { ...LLAMA_DEFAULTS, ...textRaw } : textRaw;
    const text = normalize(filled, generation, `${c.where} (text_config)`);
    const config: LlavaModelConfig = { ...text, modelType: 'llava', raw: c.raw, text, vision: visionConfig(c) };
    return config;
  },
  configure: (_c, base) => base,
};
