import type { MoeActivation } from '../kernels/moe.js';
import type { MoeConfig, MoeNames } from '../layers/moe.js';
import type { ConfigReader, ModelConfig } from './config.js';

export const HF_EXPERT_NAMES: MoeNames = { block: 'mlp', router: 'gate', gate: 'gate_proj', up: 'up_proj', down: 'down_proj' };

/** Experts per token, expert count (num_experts or num_local_experts) and the sparse-layer pattern. */
export function moeConfig(
  c: ConfigReader,
  base: ModelConfig,
  o: { names: MoeNames; normTopK: boolean; softmaxAfterTopK?: boolean; expertIntermediate?: number; sharedIntermediate?: number },
): MoeConfig {
  const E = c.has('num_experts') ? c.int('num_experts') : c.int('num_local_experts');
  const only = Array.isArray(c.raw.mlp_only_layers) ? (c.raw.mlp_only_layers as number[]) : [];
  const step = c.int('decoder_sparse_step', 1);
  const act: MoeActivation = base.activation === 'gelu_tanh' ? 'gelu_tanh' : 'silu';
  return {
    numExperts: E,
    route: { topK: c.int('num_experts_per_tok'), scoring: 'softmax', normTopK: o.normTopK, scale: 1, softmaxAfterTopK: o.softmaxAfterTopK },
    act,
    expertIntermediate: o.expertIntermediate ?? (c.has('moe_intermediate_size') ? c.int('moe_intermediate_size') : base.intermediateSize),
    sharedIntermediate: o.sharedIntermediate,
    denseLayers: base.layerTypes.map((_, i) => only.includes(i) || (i + 1) % step !== 0),
    names: o.names,
  };
}
