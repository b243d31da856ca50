import { InvalidModelError } from '../errors.js';
import { deepseekV3Gguf } from './deepseekV3Gguf.js';
import type { Family } from './family.js';

/** YaRN's attention-scale correction (DeepSeek's yarn_get_mscale). */
const mscale = (factor: number, m: number) => (factor <= 1 ? 1 : 0.1 * m * Math.log(factor) + 1);

/**
 * DeepSeek-V3 / R1 (and V2-style configs without q LoRA): multi-head latent attention with interleaved
 * RoPE on the rope part, DeepSeekMoE (sigmoid scores, e_score_correction_bias, group-limited top-k,
 * routed_scaling_factor, shared experts), the first first_k_dense_replace layers dense.
 */
export const deepseekV3: Family = {
  modelTypes: ['deepseek_v3'],
  gguf: deepseekV3Gguf,
  configure(c, base) {
    const nope = c.int('qk_nope_head_dim');
    const ropeDim = c.int('qk_rope_head_dim');
    const qLora = c.has('q_lora_rank') ? c.int('q_lora_rank') : undefined;
    const E = c.int('n_routed_experts');
    const firstDense = c.int('first_k_dense_replace', 0);
    const freq = c.int('moe_layer_freq', 1);
    const scoring = String(c.raw.scoring_func ?? 'sigmoid');
    if (scoring !== 'sigmoid' && scoring !== 'softmax') throw new InvalidModelError(`${c.where}: scoring_func ${scoring} is not supported`);
    const rope = base.rope.full;
    let scale = 1 / Math.sqrt(nope + ropeDim);
    if (rope.rope_type === 'yarn') {
      const m = mscale(Number(rope.factor ?? 1), Number(rope.mscale_all_dim ?? 0));
      scale *= m * m;
    }
    const I = c.int('moe_intermediate_size');
    const shared = c.int('n_shared_experts', 0);
    return {
      ...base,
      headDim: ropeDim,
      rotaryDim: ropeDim,
      ropeLayout: c.bool('rope_interleave', true) ? 'interleaved' : 'neox',
      attentionScale: scale,
      mla: {
        numHeads: base.numHeads,
        qLoraRank: qLora,
        kvLoraRank: c.int('kv_lora_rank'),
        nopeDim: nope,
        ropeDim,
        vDim: c.int('v_head_dim'),
        scale,
        eps: base.rmsNormEps,
      },
      moe: {
        numExperts: E,
        route: {
          topK: c.int('num_experts_per_tok'),
          scoring,
          nGroup: c.int('n_group', 1),
          topkGroup: c.int('topk_group', 1),
          normTopK: c.bool('norm_topk_prob', true),
          scale: c.num('routed_scaling_factor', 1),
        },
        act: base.activation === 'gelu_tanh' ? 'gelu_tanh' : 'silu',
        expertIntermediate: I,
        sharedIntermediate: shared ? I * shared : undefined,
        denseLayers: base.layerTypes.map((_, i) => i < firstDense || i % freq !== 0),
        names: { block: 'mlp', router: 'gate', gate: 'gate_proj', up: 'up_proj', down: 'down_proj', shared: shared ? 'shared_experts' : undefined },
      },
    };
  },
};
