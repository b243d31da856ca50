import type { GGUFLayout } from '../weights/ggufLayout.js';
import type { ConfigReader, ModelConfig, RawConfig } from './config.js';

/** A model family: how its config.json maps onto ModelConfig. The forward pass is shared (decoder.ts). */
export interface Family {
  readonly modelTypes: readonly string[];
  configure(c: ConfigReader, base: ModelConfig): ModelConfig;
  /** Replaces baseConfig() where the text model's fields are nested (llava's text_config); `normalize` is registry.normalizeConfig. */
  baseConfig?(c: ConfigReader, generation: RawConfig, normalize: (raw: RawConfig, generation: RawConfig, where: string) => ModelConfig): ModelConfig;
  /** How the family sits in llama.cpp's GGUF files (read and converted); absent: no GGUF. */
  readonly gguf?: GGUFLayout;
}

/**
 * Sliding layers from the pre-`layer_types` Qwen convention: with `use_sliding_window`, layers from
 * `max_window_layers` on use the window.
 */
export function qwenLayerTypes(c: ConfigReader, base: ModelConfig): ModelConfig['layerTypes'] {
  if (Array.isArray(c.raw.layer_types) || !c.bool('use_sliding_window', false)) return base.layerTypes;
  const from = c.int('max_window_layers', base.numLayers);
  return base.layerTypes.map((_, i) => (i >= from ? 'sliding' : 'full'));
}
