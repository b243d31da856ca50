/**
 * Hugging Face configs of real models, for benchmarks with random weights of the real shapes (weights are
 * generated on the GPU machine, never carried).
 */
export const benchShapes: Record<string, Record<string, unknown>> = {
  // DeepSeek-R1-Distill-Qwen-1.5B = Qwen2.5-1.5B
  'qwen2.5-1.5b': {
    model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], hidden_size: 1536, intermediate_size: 8960,
    num_hidden_layers: 28, num_attention_heads: 12, num_key_value_heads: 2, vocab_size: 151936,
    max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: true,
    hidden_act: 'silu', bos_token_id: 151643, eos_token_id: 151643,
  },
  'llama-3.2-1b': {
    model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: 2048, intermediate_size: 8192,
    num_hidden_layers: 16, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64, vocab_size: 128256,
    max_position_embeddings: 131072, rms_norm_eps: 1e-5, rope_theta: 500000, tie_word_embeddings: true,
    hidden_act: 'silu', bos_token_id: 128000, eos_token_id: 128001,
    rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
  },
  // Llama-3.1-8B (= DeepSeek-R1-Distill-Llama-8B's shape): the size where the GEMVs' bandwidth shows.
  'llama-3.1-8b': {
    model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: 4096, intermediate_size: 14336,
    num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 128, vocab_size: 128256,
    max_position_embeddings: 131072, rms_norm_eps: 1e-5, rope_theta: 500000, tie_word_embeddings: false,
    hidden_act: 'silu', bos_token_id: 128000, eos_token_id: 128001,
    rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
  },
  // OLMoE-1B-7B's shape (64 experts, top-8, hidden 2048, expert size 1024, 16 layers) on the qwen3_moe
  // layout, and the two references for the MoE benchmark: the same MoE with every expert on, and a dense
  // model with the same active parameters (MLP width 8 x 1024).
  'moe-olmoe-shape': {
    model_type: 'qwen3_moe', hidden_size: 2048, intermediate_size: 1024, moe_intermediate_size: 1024,
    num_hidden_layers: 16, num_attention_heads: 16, num_key_value_heads: 16, head_dim: 128, vocab_size: 50304,
    num_experts: 64, num_experts_per_tok: 8, norm_topk_prob: false, decoder_sparse_step: 1, mlp_only_layers: [],
    max_position_embeddings: 4096, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu',
  },
  'moe-olmoe-shape-all-experts': {
    model_type: 'qwen3_moe', hidden_size: 2048, intermediate_size: 1024, moe_intermediate_size: 1024,
    num_hidden_layers: 16, num_attention_heads: 16, num_key_value_heads: 16, head_dim: 128, vocab_size: 50304,
    num_experts: 64, num_experts_per_tok: 64, norm_topk_prob: false, decoder_sparse_step: 1, mlp_only_layers: [],
    max_position_embeddings: 4096, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu',
  },
  'dense-olmoe-active': {
    model_type: 'llama', hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16,
    num_attention_heads: 16, num_key_value_heads: 16, head_dim: 128, vocab_size: 50304,
    max_position_embeddings: 4096, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu',
  },
  // A tiny shape to check the harness on a CPU machine (never timed there).
  tiny: {
    model_type: 'qwen2', hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, vocab_size: 512, max_position_embeddings: 512, rms_norm_eps: 1e-6, rope_theta: 10000,
    tie_word_embeddings: true, hidden_act: 'silu',
  },
  'tiny-moe': {
    model_type: 'qwen3_moe', hidden_size: 64, intermediate_size: 64, moe_intermediate_size: 32,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, vocab_size: 512,
    num_experts: 8, num_experts_per_tok: 2, norm_topk_prob: false, decoder_sparse_step: 1, mlp_only_layers: [],
    max_position_embeddings: 512, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu',
  },
  'olmoe-1b-7b': {
    model_type: 'olmoe', architectures: ['OlmoeForCausalLM'], hidden_size: 2048, intermediate_size: 1024,
    num_hidden_layers: 16, num_attention_heads: 16, num_key_value_heads: 16, vocab_size: 50304,
    num_experts: 64, num_experts_per_tok: 8, norm_topk_prob: false, max_position_embeddings: 4096,
    rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu',
    bos_token_id: 1, eos_token_id: 50279, clip_qkv: null,
  },
};
