import type { Family } from './family.js';
import { HF_EXPERT_NAMES, moeConfig } from './moeConfig.js';
import { qwen3 } from './qwen3.js';

/** Qwen3-MoE: Qwen3 attention; softmax top-k routing, renormalised when norm_topk_prob. */
export const qwen3Moe: Family = {
  modelTypes: ['qwen3_moe'],
  gguf: { arch: 'qwen3moe', defaults: { norm_topk_prob: true, decoder_sparse_step: 1 } },
  configure(c, base) {
    return { ...qwen3.configure(c, base), moe: moeConfig(c, base, { names: HF_EXPERT_NAMES, normTopK: c.bool('norm_topk_prob', true) }) };
  },
};
