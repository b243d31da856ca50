import type { MlaDims } from '../layers/mla.js';
import type { MoeConfig } from '../layers/moe.js';
import type { ModelConfig } from './config.js';

/** What MoE and MLA families add to ModelConfig (read by the loader and the decoder). */
export interface MoeModelConfig extends ModelConfig {
  readonly moe?: MoeConfig;
  readonly mla?: MlaDims;
  /** granitemoe: the attention and MLP outputs are scaled before the residual add. */
  readonly residualScale?: number;
  /** granitemoe: logits are divided by this. */
  readonly logitsDivisor?: number;
  /** olmoe: q_norm / k_norm weights span the whole projection [nH * hd] / [nKv * hd], not one head. */
  readonly qkNormOverProjection?: boolean;
}
