import type { GpuContext } from '../gpu/context.js';
import type { WeightSource } from '../weights/source.js';
import type { ModelConfig } from './config.js';
import { buildIdefics3 } from './idefics3.js';
import { isIdefics3Config } from './idefics3Config.js';
import { buildLlava } from './llava.js';
import { isLlavaConfig } from './llavaConfig.js';
import { buildModel, type LoadModelOptions } from './load.js';
import { buildQwen2VL } from './qwen2vl.js';
import { isQwen2VLConfig } from './qwen2vlConfig.js';
import type { LoadedModel } from './types.js';

/** Any supported model onto the GPU: a LLaVA, Idefics3 or Qwen2-VL model (vision + text) or a decoder (buildModel). */
export function buildAnyModel(ctx: GpuContext, c: ModelConfig, src: WeightSource, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  if (isIdefics3Config(c)) return buildIdefics3(ctx, c, src, opts);
  if (isQwen2VLConfig(c)) return buildQwen2VL(ctx, c, src, opts);
  return isLlavaConfig(c) ? buildLlava(ctx, c, src, opts) : buildModel(ctx, c, src, opts);
}
