import type { Family } from './family.js';
import { HF_EXPERT_NAMES, moeConfig } from './moeConfig.js';
import { qwen2 } from './qwen2.js';

/** Qwen2-MoE: Qwen2 attention; top-k without renormalisation (norm_topk_prob); a sigmoid-gated shared expert. */
export const qwen2Moe: Family = {
  modelTypes: ['qwen2_moe'],
  gguf: { arch: 'qwen2moe', defaults: { norm_topk_prob: false, decoder_sparse_step: 1 } },
  configure(c, base) {
    const names = { ...HF_EXPERT_NAMES, shared: 'shared_expert', sharedGate: 'shared_expert_gate' };
    const moe = moeConfig(c, base, { names, normTopK: c.bool('norm_topk_prob', false), sharedIntermediate: c.int('shared_expert_intermediate_size') });
    return { ...qwen2.configure(c, base), qkvBias: c.bool('qkv_bias', true), moe };
  },
};
