import type { Family } from './family.js';
import { moeConfig } from './moeConfig.js';

/**
 * gpt-oss: attention with q/k/v/o biases, per-head sinks and alternating sliding-window / full layers
 * (layer_types), YaRN RoPE; MoE with a biased router (top-k over the logits, softmax over the k) and fused
 * experts (gate_up_proj [E, H, 2I] with gate and up interleaved, down_proj [E, I, H], both with biases)
 * through the clamped SwiGLU: (clamp(up, ±limit) + 1) · g · σ(alpha · g), g = min(gate, limit).
 */
export const gptOss: Family = {
  modelTypes: ['gpt_oss'],
  configure(c, base) {
    const names = { block: 'mlp', router: 'router', gate: '', up: '', down: '', fused: { gateUp: 'experts.gate_up_proj', down: 'experts.down_proj' } };
    const moe = moeConfig(c, base, { names, normTopK: false, softmaxAfterTopK: true });
    return { ...base, moe: { ...moe, act: 'silu', clamp: { limit: c.num('swiglu_limit', 7), alpha: 1.702 } } };
  },
};
