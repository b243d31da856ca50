import type { GpuContext } from '../gpu/context.js';
import type { WeightSource } from '../weights/source.js';
import type { ModelConfig } from './config.js';
import { buildLlava } from './llava.js';
import { isLlavaConfig } from './llavaConfig.js';
import { buildModel, type LoadModelOptions } from './load.js';
import type { LoadedModel } from './types.js';

/** Any supported model onto the GPU: a LLaVA model (vision + text) or a decoder (buildModel). */
export function buildAnyModel(ctx: GpuContext, c: ModelConfig, src: WeightSource, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  return isLlavaConfig(c) ? buildLlava(ctx, c, src, opts) : buildModel(ctx, c, src, opts);
}
