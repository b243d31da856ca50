import { InvalidModelError } from '../errors.js';
import type { VisionDims } from '../layers/vision.js';
import { ConfigReader, type ModelConfig, type RawConfig } from './config.js';
import type { Family } from './family.js';

/**
 * The vision side of Qwen2-VL: a ViT over 14-px patches of two frames (a still image twice), 2-D rotary in its
 * attention, LayerNorm blocks, and the 2x2 patch merger to the text model's width. As VisionDims, `numChannels`
 * is the patch embedding's input planes (in_channels x temporal_patch_size: a Conv3d over the frames is a
 * Conv2d over those planes) and `imageSize` is 0: the patch grid follows each image (smart_resize).
 */
export interface Qwen2VLVisionConfig extends VisionDims {
  readonly depth: number;
  readonly inChannels: number;
  readonly temporalPatchSize: number;
  /** Patches merged into one token along each side. */
  readonly mergeSize: number;
  /** The merger's output width: the text model's hidden size. */
  readonly outSize: number;
  readonly ropeTheta: number;
  readonly imageTokenId: number;
  readonly visionStartTokenId: number;
}

/** A Qwen2-VL config: the text model's fields (model_type 'qwen2_vl'), the text config, the vision config, M-RoPE. */
export interface Qwen2VLModelConfig extends ModelConfig {
  readonly text: ModelConfig;
  readonly qwen2vl: Qwen2VLVisionConfig;
  /** The text rotary's frequency pairs that turn by the t, h and w positions (sums to rotaryDim / 2). */
  readonly mropeSection: readonly [number, number, number];
}

export const isQwen2VLConfig = (c: ModelConfig): c is Qwen2VLModelConfig => 'qwen2vl' in c && 'text' in c;

/** Qwen2VLVisionConfig's defaults. */
const VISION_DEFAULTS = {
  depth: 32,
  embed_dim: 1280,
  hidden_size: 3584,
  hidden_act: 'quick_gelu',
  mlp_ratio: 4,
  num_heads: 16,
  in_channels: 3,
  patch_size: 14,
  spatial_merge_size: 2,
  temporal_patch_size: 2,
};

function visionConfig(c: ConfigReader, textHidden: number): Qwen2VLVisionConfig {
  const raw = (c.raw.vision_config ?? {}) as RawConfig;
  // The Hub's Qwen2-VL configs name the input channels in_chans.
  const v = new ConfigReader({ ...VISION_DEFAULTS, ...(raw.in_chans !== undefined ? { in_channels: raw.in_chans } : {}), ...raw }, `${c.where} (vision_config)`);
  const D = v.int('embed_dim');
  const numHeads = v.int('num_heads');
  const headDim = D / numHeads;
  if (!Number.isInteger(headDim) || headDim % 4 !== 0) {
    throw new InvalidModelError(`${v.where}: embed_dim ${D} / num_heads ${numHeads} must be a head size that is a multiple of 4 (2-D rotary)`);
  }
  const outSize = v.int('hidden_size');
  if (outSize !== textHidden) throw new InvalidModelError(`${v.where}: hidden_size ${outSize} (the merger's output) is not the text model's ${textHidden}`);
  const ratio = v.num('mlp_ratio');
  const intermediateSize = Math.round(D * ratio);
  const rope = (raw.rope_parameters ?? {}) as RawConfig;
  const inChannels = v.int('in_channels');
  const temporalPatchSize = v.int('temporal_patch_size');
  return {
    hiddenSize: D,
    intermediateSize,
    numHeads,
    headDim,
    imageSize: 0,
    patchSize: v.int('patch_size'),
    numChannels: inChannels * temporalPatchSize,
    eps: 1e-6,
    activation: v.activation(['hidden_act'], 'quick_gelu'),
    classToken: false,
    depth: v.int('depth'),
    inChannels,
    temporalPatchSize,
    mergeSize: v.int('spatial_merge_size'),
    outSize,
    ropeTheta: typeof rope.rope_theta === 'number' ? rope.rope_theta : 10000,
    imageTokenId: c.int('image_token_id', 151655),
    visionStartTokenId: c.int('vision_start_token_id', 151652),
  };
}

/**
 * The text model's raw config: text_config (transformers 5) or the top-level keys (the Hub's Qwen2-VL checkpoints),
 * as a qwen2 config whose rope is the default one (M-RoPE's `mrope_section` is read apart).
 */
function textRaw(c: ConfigReader): { raw: RawConfig; section: unknown } {
  const nested = c.raw.text_config && typeof c.raw.text_config === 'object' ? (c.raw.text_config as RawConfig) : undefined;
  const base: Record<string, unknown> = { ...(nested ?? c.raw) };
  delete base.text_config;
  delete base.vision_config;
  const params = base.rope_parameters as RawConfig | undefined;
  const scaling = base.rope_scaling as RawConfig | undefined;
  const rope = params && typeof params === 'object' ? params : scaling && typeof scaling === 'object' ? scaling : {};
  const theta = rope.rope_theta ?? base.rope_theta ?? 1000000;
  delete base.rope_scaling;
  base.rope_parameters = { rope_type: 'default', rope_theta: theta };
  if (base.tie_word_embeddings === undefined && c.raw.tie_word_embeddings !== undefined) base.tie_word_embeddings = c.raw.tie_word_embeddings;
  return { raw: { ...base, model_type: 'qwen2' }, section: rope.mrope_section };
}

/** `qwen2_vl` (Qwen2-VL): a qwen2 text model (normalised through its family) with M-RoPE, and the vision tower read here. */
export const qwen2vl: Family = {
  modelTypes: ['qwen2_vl'],
  baseConfig(c, generation, normalize) {
    const { raw, section } = textRaw(c);
    const text = normalize(raw, generation, `${c.where} (text)`);
    const half = text.rotaryDim / 2;
    const sec = section ?? [16, 24, 24];
    if (!Array.isArray(sec) || sec.length !== 3 || sec.some((s) => !Number.isInteger(s) || s < 0) || sec[0] + sec[1] + sec[2] !== half) {
      throw new InvalidModelError(`${c.where}: mrope_section ${JSON.stringify(sec)} must be 3 counts summing to head_dim / 2 = ${half}`);
    }
    const config: Qwen2VLModelConfig = {
      ...text,
      modelType: 'qwen2_vl',
      raw: c.raw,
      text,
      qwen2vl: visionConfig(c, text.hiddenSize),
      mropeSection: sec as [number, number, number],
    };
    return config;
  },
  configure: (_c, base) => base,
};
