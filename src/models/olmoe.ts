import { UnsupportedModelError } from '../errors.js';
import type { Family } from './family.js';
import { HF_EXPERT_NAMES, moeConfig } from './moeConfig.js';

/**
 * OLMoE: Llama attention with RMSNorm of q and k over the whole projection ([nH * hd] and [nKv * hd],
 * before the split into heads); softmax top-k routing, not renormalised unless norm_topk_prob.
 */
export const olmoe: Family = {
  modelTypes: ['olmoe'],
  configure(c, base) {
    if (c.has('clip_qkv')) throw new UnsupportedModelError(`${c.where}: olmoe clip_qkv is not supported`);
    const moe = moeConfig(c, base, { names: HF_EXPERT_NAMES, normTopK: c.bool('norm_topk_prob', false) });
    return { ...base, qkNorm: true, qkNormOverProjection: true, moe };
  },
};
