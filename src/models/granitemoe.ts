import type { Family } from './family.js';
import { moeConfig } from './moeConfig.js';

/**
 * GraniteMoE: Llama attention; stacked experts (input_linear [E, 2I, H], output_linear [E, H, I]); top-k
 * over the router logits, softmax over the k; four multipliers: embedding, attention (the softmax scale),
 * residual (attention and MoE outputs; the MoE one folded into the routing weights) and logits (divisor).
 */
export const granitemoe: Family = {
  modelTypes: ['granitemoe'],
  configure(c, base) {
    const residual = c.num('residual_multiplier', 1);
    const names = {
      block: 'block_sparse_moe',
      router: 'router.layer',
      gate: '',
      up: '',
      down: '',
      stacked: { gateUp: 'input_linear.weight', down: 'output_linear.weight' },
    };
    const moe = moeConfig(c, base, { names, normTopK: false, softmaxAfterTopK: true });
    return {
      ...base,
      embedScale: c.num('embedding_multiplier', 1),
      attentionScale: c.num('attention_multiplier', base.attentionScale),
      tieWordEmbeddings: c.bool('tie_word_embeddings', true),
      moe: { ...moe, route: { ...moe.route, scale: residual } },
      residualScale: residual,
      logitsDivisor: c.num('logits_scaling', 1),
    };
  },
};
