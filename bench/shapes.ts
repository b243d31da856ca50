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
  // Qwen3-30B-A3B: 128 experts, top-8, 48 layers.
  'qwen3-30b-a3b': {
    model_type: 'qwen3_moe', architectures: ['Qwen3MoeForCausalLM'], hidden_size: 2048, intermediate_size: 6144,
    moe_intermediate_size: 768, num_hidden_layers: 48, num_attention_heads: 32, num_key_value_heads: 4, head_dim: 128,
    vocab_size: 151936, num_experts: 128, num_experts_per_tok: 8, norm_topk_prob: true, decoder_sparse_step: 1,
    mlp_only_layers: [], max_position_embeddings: 40960, rms_norm_eps: 1e-6, rope_theta: 1000000,
    tie_word_embeddings: false, hidden_act: 'silu', bos_token_id: 151643, eos_token_id: 151645,
  },
  // DeepSeek-V2-Lite (the DeepSeek-R1 architecture at a size a browser holds): MLA with kv_lora_rank 512 and no
  // q LoRA, 64 routed experts top-6 (softmax), 2 shared, the first layer dense. Its yarn rope scaling is left
  // out (it changes no shape).
  'deepseek-v2-lite': {
    model_type: 'deepseek_v3', architectures: ['DeepseekV3ForCausalLM'], hidden_size: 2048, intermediate_size: 10944,
    moe_intermediate_size: 1408, num_hidden_layers: 27, num_attention_heads: 16, num_key_value_heads: 16,
    n_routed_experts: 64, num_experts_per_tok: 6, n_shared_experts: 2, first_k_dense_replace: 1, moe_layer_freq: 1,
    kv_lora_rank: 512, q_lora_rank: null, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128,
    n_group: 1, topk_group: 1, topk_method: 'greedy', norm_topk_prob: false, routed_scaling_factor: 1.0,
    scoring_func: 'softmax', vocab_size: 102400, max_position_embeddings: 163840, rms_norm_eps: 1e-6,
    rope_theta: 10000, rope_interleave: true, tie_word_embeddings: false, hidden_act: 'silu',
    bos_token_id: 100000, eos_token_id: 100001,
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
