import { ropeDict } from './config.js';
import type { Family } from './family.js';

/**
 * Gemma 3 (text): interleaved local (sliding) and global layers with their own RoPE bases, (1 + w)
 * RMSNorms, norms before and after attention and MLP, q/k norms, embeddings scaled by sqrt(hidden),
 * softmax scale query_pre_attn_scalar^-1/2, tied embeddings.
 */
export const gemma3: Family = {
  modelTypes: ['gemma3_text'],
  configure(c, base) {
    const pattern = c.int('sliding_window_pattern', c.has('_sliding_window_pattern') ? c.int('_sliding_window_pattern') : 6);
    const layerTypes = Array.isArray(c.raw.layer_types)
      ? base.layerTypes
      : base.layerTypes.map((_, i) => ((i + 1) % pattern === 0 ? 'full' : 'sliding'));
    const nested = typeof (c.raw.rope_parameters as Record<string, unknown> | undefined)?.sliding_attention === 'object';
    const sliding = nested
      ? ropeDict(c, 'sliding_attention')
      : { rope_type: 'default', rope_theta: c.num('rope_local_base_freq', 10000) };
    return {
      ...base,
      layerTypes,
      rope: { full: ropeDict(c, 'full_attention'), sliding },
      qkNorm: true,
      normWeightOffset: 1,
      sandwichNorms: true,
      activation: c.activation(['hidden_activation', 'hidden_act'], 'gelu_pytorch_tanh'),
      embedScale: Math.sqrt(base.hiddenSize),
      attentionScale: 1 / Math.sqrt(c.num('query_pre_attn_scalar', base.headDim)),
      tieWordEmbeddings: c.bool('tie_word_embeddings', true),
    };
  },
};
