import { InvalidModelError, UnsupportedModelError } from '../errors.js';
import { baseConfig, ConfigReader, type ModelConfig, type RawConfig } from './config.js';
import type { Family } from './family.js';
import { deepseekV3 } from './deepseekV3.js';
import { gptOss } from './gptOss.js';
import { granitemoe } from './granitemoe.js';
import { mixtral } from './mixtral.js';
import { olmoe } from './olmoe.js';
import { qwen2Moe } from './qwen2Moe.js';
import { qwen3Moe } from './qwen3Moe.js';
import { gemma3 } from './gemma3.js';
import { llama } from './llama.js';
import { mistral } from './mistral.js';
import { qwen2 } from './qwen2.js';
import { qwen3 } from './qwen3.js';
import { llava } from './llavaConfig.js';
import { idefics3 } from './idefics3Config.js';
import { qwen2vl } from './qwen2vlConfig.js';

const families = new Map<string, Family>();

/** Adds a family (other modules register MoE and other architectures the same way). */
export function registerFamily(f: Family): void {
  for (const t of f.modelTypes) families.set(t, f);
}

for (const f of [llama, mistral, qwen2, qwen3, gemma3]) registerFamily(f);
for (const f of [deepseekV3, qwen3Moe, mixtral, qwen2Moe, granitemoe, olmoe, gptOss]) registerFamily(f); // MoE / MLA families
registerFamily(llava); // vision + text (src/models/llavaConfig.ts, llava.ts)
registerFamily(idefics3); // SmolVLM (src/models/idefics3Config.ts, idefics3.ts)
registerFamily(qwen2vl); // Qwen2-VL (src/models/qwen2vlConfig.ts, qwen2vl.ts)

/** Every registered family, once each, in registration order. */
export function registeredFamilies(): Family[] {
  return [...new Set(families.values())];
}

export function supportedModelTypes(): string[] {
  return [...families.keys()].sort();
}

/** config.json (+ generation_config.json) → ModelConfig, through the family of its model_type. */
export function normalizeConfig(raw: RawConfig, generation: RawConfig = {}, where = 'model'): ModelConfig {
  const type = raw.model_type;
  if (typeof type !== 'string' || !type) throw new InvalidModelError(`${where}: config.json has no model_type`);
  const family = families.get(type);
  if (!family) {
    throw new UnsupportedModelError(`${where}: model_type ${type} is not supported (supported: ${supportedModelTypes().join(', ')})`);
  }
  const c = new ConfigReader(raw, where);
  const config = family.configure(c, family.baseConfig ? family.baseConfig(c, generation, normalizeConfig) : baseConfig(c, generation));
  if (config.layerTypes.includes('sliding') && !config.slidingWindow) {
    throw new InvalidModelError(`${where}: sliding-window layers but no sliding_window size in config.json`);
  }
  return config;
}
