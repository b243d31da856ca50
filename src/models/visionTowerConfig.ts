import { InvalidModelError, UnsupportedModelError } from '../errors.js';
import type { VisionDims } from '../layers/vision.js';
import { ConfigReader, type RawConfig } from './config.js';

/** A ViT vision tower's dims (CLIP's, SigLIP's) and its depth. */
export interface VisionTowerDims extends VisionDims {
  readonly numLayers: number;
}

/**
 * A vision-language config's vision_config (CLIP's, SigLIP's keys) read as a ViT tower: its model_type must be
 * `type` (the default where left out), `defaults` fill what it leaves out, the heads must divide the width
 * and the patches the image.
 */
export function visionTowerDims(c: ConfigReader, type: string, defaults: RawConfig, defaultActivation: string): VisionTowerDims {
  const raw = (c.raw.vision_config ?? {}) as RawConfig;
  const got = raw.model_type ?? type;
  if (got !== type) throw new UnsupportedModelError(`${c.where}: vision_config.model_type ${String(got)} is not supported (${type})`);
  const v = new ConfigReader({ ...defaults, ...raw }, `${c.where} (vision_config)`);
  const hiddenSize = v.int('hidden_size');
  const numHeads = v.int('num_attention_heads');
  const imageSize = v.int('image_size');
  const patchSize = v.int('patch_size');
  if (hiddenSize % numHeads !== 0) throw new InvalidModelError(`${v.where}: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
  if (imageSize % patchSize !== 0) throw new InvalidModelError(`${v.where}: image_size ${imageSize} is not a multiple of patch_size ${patchSize}`);
  return {
    hiddenSize,
    intermediateSize: v.int('intermediate_size'),
    numHeads,
    headDim: hiddenSize / numHeads,
    imageSize,
    patchSize,
    numChannels: v.int('num_channels'),
    eps: v.num('layer_norm_eps'),
    activation: v.activation(['hidden_act'], defaultActivation),
    numLayers: v.int('num_hidden_layers'),
  };
}
