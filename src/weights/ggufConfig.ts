import { InvalidModelError, UnsupportedModelError } from '../errors.js';
import type { RawConfig } from './source.js';
import type { GGUFTypedValue, GGUFValue } from './ggufFormat.js';
import { HF_TO_GGUF_ARCH, hfModelType } from './ggufNames.js';
import { meta } from './ggufWriter.js';

/** Hyperparameters: HF config.json key ↔ GGUF key under `{arch}.`. Integers unless listed in FLOAT_KEYS. */
const HPARAMS: [hf: string, gguf: string][] = [
  ['vocab_size', 'vocab_size'],
  ['max_position_embeddings', 'context_length'],
  ['hidden_size', 'embedding_length'],
  ['intermediate_size', 'feed_forward_length'],
  ['num_hidden_layers', 'block_count'],
  ['num_attention_heads', 'attention.head_count'],
  ['num_key_value_heads', 'attention.head_count_kv'],
  ['rms_norm_eps', 'attention.layer_norm_rms_epsilon'],
  ['rope_theta', 'rope.freq_base'],
  ['sliding_window', 'attention.sliding_window'],
  ['moe_intermediate_size', 'expert_feed_forward_length'],
  ['shared_expert_intermediate_size', 'expert_shared_feed_forward_length'],
  ['num_experts_per_tok', 'expert_used_count'],
  ['q_lora_rank', 'attention.q_lora_rank'],
  ['kv_lora_rank', 'attention.kv_lora_rank'],
  ['first_k_dense_replace', 'leading_dense_block_count'],
  ['n_shared_experts', 'expert_shared_count'],
  ['routed_scaling_factor', 'expert_weights_scale'],
  ['norm_topk_prob', 'expert_weights_norm'],
  ['n_group', 'expert_group_count'],
  ['topk_group', 'expert_group_used_count'],
];
const FLOAT_KEYS = new Set(['rms_norm_eps', 'rope_theta', 'routed_scaling_factor']);
const BOOL_KEYS = new Set(['norm_topk_prob']);

const ropeTheta = (raw: RawConfig): number | undefined => {
  const p = raw.rope_parameters as { rope_theta?: number } | undefined;
  return (raw.rope_theta as number | undefined) ?? p?.rope_theta;
};

/** GGUF metadata of a HF config (the converter): general.architecture and the `{arch}.*` hyperparameters. */
export function ggufHparams(raw: RawConfig): Map<string, GGUFTypedValue> {
  const type = String(raw.model_type);
  const arch = HF_TO_GGUF_ARCH[type];
  if (!arch) throw new UnsupportedModelError(`model_type ${type} cannot be converted to GGUF (supported: ${Object.keys(HF_TO_GGUF_ARCH).join(', ')})`);
  const out = new Map<string, GGUFTypedValue>([['general.architecture', meta.str(arch)]]);
  const value = (k: string): unknown => (k === 'rope_theta' ? ropeTheta(raw) : raw[k]);
  for (const [hf, g] of HPARAMS) {
    const v = value(hf);
    if (v === undefined || v === null) continue;
    if (hf === 'sliding_window' && !raw.use_sliding_window && type !== 'mistral') continue;
    out.set(`${arch}.${g}`, BOOL_KEYS.has(hf) ? meta.bool(Boolean(v)) : FLOAT_KEYS.has(hf) ? meta.f32(Number(v)) : meta.u32(Number(v)));
  }
  const experts = (raw.num_experts ?? raw.num_local_experts ?? raw.n_routed_experts) as number | undefined;
  if (experts) out.set(`${arch}.expert_count`, meta.u32(experts));
  const heads = Number(raw.num_attention_heads);
  const headDim = (raw.head_dim as number | undefined) ?? Number(raw.hidden_size) / heads;
  if (!Number.isInteger(headDim)) throw new InvalidModelError(`config.json: hidden_size ${raw.hidden_size} is not a multiple of num_attention_heads ${heads}`);
  if (arch !== 'deepseek2') {
    out.set(`${arch}.attention.key_length`, meta.u32(headDim));
    out.set(`${arch}.attention.value_length`, meta.u32(headDim));
    out.set(`${arch}.rope.dimension_count`, meta.u32(Math.round(headDim * Number(raw.partial_rotary_factor ?? 1))));
  } else {
    for (const [k, v] of deepseekHparams(raw)) out.set(`${arch}.${k}`, v);
  }
  return out;
}

/**
 * deepseek2 hyperparameters as llama.cpp's converter (DeepseekV2Model.set_gguf_parameters) writes them for
 * MLA: one KV head of key_length kv_lora_rank + rope and value_length kv_lora_rank (the latent), the per-head
 * sizes in key_length_mla / value_length_mla. Also the router's gating function (sigmoid for DeepSeek-V3,
 * whose config.json may leave scoring_func out), expert_shared_count (llama.cpp requires it) and
 * q_lora_rank 0 for configs without q LoRA (llama.cpp requires the key unless the layer count is a
 * "lite" one, 26 or 27; 0 selects attn_q).
 */
function deepseekHparams(raw: RawConfig): [string, GGUFTypedValue][] {
  const int = (k: string): number => {
    const v = raw[k];
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new InvalidModelError(`config.json: deepseek_v3 needs an integer ${k}`);
    return v;
  };
  const rank = int('kv_lora_rank');
  const nope = int('qk_nope_head_dim');
  const rope = int('qk_rope_head_dim');
  const scoring = String(raw.scoring_func ?? 'sigmoid');
  const gating = { softmax: 1, sigmoid: 2 }[scoring];
  if (!gating) throw new UnsupportedModelError(`config.json: scoring_func ${scoring} cannot be converted to GGUF (softmax or sigmoid)`);
  return [
    ['attention.head_count_kv', meta.u32(1)],
    ['attention.key_length', meta.u32(rank + rope)],
    ['attention.value_length', meta.u32(rank)],
    ['attention.key_length_mla', meta.u32(nope + rope)],
    ['attention.value_length_mla', meta.u32(int('v_head_dim'))],
    ['attention.q_lora_rank', meta.u32(Number(raw.q_lora_rank ?? 0))],
    ['rope.dimension_count', meta.u32(rope)],
    ['expert_shared_count', meta.u32(Number(raw.n_shared_experts ?? 0))],
    ['leading_dense_block_count', meta.u32(Number(raw.first_k_dense_replace ?? 0))],
    ['expert_gating_func', meta.u32(gating)],
    ...yarnHparams(raw),
  ];
}

/** The rope dictionary of a config: transformers 5's rope_parameters, or the older rope_scaling. */
function ropeDict(raw: RawConfig): Record<string, unknown> {
  const p = raw.rope_parameters as Record<string, unknown> | undefined;
  if (p && typeof p === 'object' && ('rope_type' in p || 'rope_theta' in p)) return p;
  return (raw.rope_scaling as Record<string, unknown> | undefined) ?? {};
}

/**
 * YaRN of a DeepSeek config (DeepSeek-V2-Lite, V3 / R1) as llama.cpp's converter writes it: type, factor,
 * original context, betas, and yarn_log_multiplier = 0.1 * mscale_all_dim (deepseek2 only; llama.cpp
 * divides it by 0.1 again and takes mscale = mscale_all_dim, as DeepSeek's configs have them).
 */
function yarnHparams(raw: RawConfig): [string, GGUFTypedValue][] {
  const r = ropeDict(raw);
  if (String(r.rope_type ?? r.type ?? 'default') !== 'yarn') return [];
  const factor = Number(r.factor);
  const orig = Number(r.original_max_position_embeddings);
  if (!(factor > 0) || !Number.isInteger(orig)) throw new InvalidModelError('config.json: yarn rope scaling needs factor and original_max_position_embeddings');
  const out: [string, GGUFTypedValue][] = [
    ['rope.scaling.type', meta.str('yarn')],
    ['rope.scaling.factor', meta.f32(factor)],
    ['rope.scaling.original_context_length', meta.u32(orig)],
  ];
  if (typeof r.beta_fast === 'number') out.push(['rope.scaling.yarn_beta_fast', meta.f32(r.beta_fast)]);
  if (typeof r.beta_slow === 'number') out.push(['rope.scaling.yarn_beta_slow', meta.f32(r.beta_slow)]);
  if (typeof r.mscale_all_dim === 'number') out.push(['rope.scaling.yarn_log_multiplier', meta.f32(0.1 * r.mscale_all_dim)]);
  return out;
}

const num = (v: GGUFValue | undefined): number | undefined => (v === undefined ? undefined : Number(v));

/**
 * An HF-style config.json object from GGUF metadata, for the same config normalisation as safetensors
 * checkpoints. `hasOutput` says whether the file has output.weight (else the embeddings are tied).
 */
export function configFromGGUF(md: ReadonlyMap<string, GGUFValue>, hasOutput: boolean, where = 'model.gguf'): RawConfig {
  const arch = md.get('general.architecture');
  if (typeof arch !== 'string') throw new InvalidModelError(`${where}: no general.architecture in the GGUF metadata`);
  const experts = num(md.get(`${arch}.expert_count`)) ?? 0;
  const modelType = hfModelType(arch, experts);
  if (!modelType)
    throw new UnsupportedModelError(`${where}: GGUF architecture ${arch} is not supported (supported: llama, qwen2, qwen3, qwen2moe, qwen3moe, deepseek2)`);
  const raw: Record<string, unknown> = { model_type: modelType, tie_word_embeddings: !hasOutput };
  for (const [hf, g] of HPARAMS) {
    const v = md.get(`${arch}.${g}`);
    if (v !== undefined) raw[hf] = BOOL_KEYS.has(hf) ? Boolean(v) : Number(v);
  }
  const need = (k: string) => {
    if (raw[k] === undefined) throw new InvalidModelError(`${where}: GGUF metadata lacks ${arch}.${HPARAMS.find(([h]) => h === k)![1]}`);
  };
  for (const k of ['hidden_size', 'num_hidden_layers', 'num_attention_heads']) need(k);
  raw.num_key_value_heads ??= raw.num_attention_heads;
  raw.rms_norm_eps ??= 1e-6;
  raw.rope_theta ??= 10000;
  raw.max_position_embeddings ??= 4096;
  if (raw.vocab_size === undefined) {
    const tokens = md.get('tokenizer.ggml.tokens');
    if (!Array.isArray(tokens)) throw new InvalidModelError(`${where}: GGUF metadata has neither ${arch}.vocab_size nor tokenizer.ggml.tokens`);
    raw.vocab_size = tokens.length;
  }
  const keyLength = num(md.get(`${arch}.attention.key_length`));
  if (keyLength !== undefined && arch !== 'deepseek2') raw.head_dim = keyLength;
  const rot = num(md.get(`${arch}.rope.dimension_count`));
  const headDim = (raw.head_dim as number | undefined) ?? Number(raw.hidden_size) / Number(raw.num_attention_heads);
  if (rot !== undefined && rot !== headDim && arch !== 'deepseek2') raw.partial_rotary_factor = rot / headDim;
  const scaling = md.get(`${arch}.rope.scaling.type`);
  if (scaling && scaling !== 'none') {
    raw.rope_scaling = {
      rope_type: scaling,
      factor: num(md.get(`${arch}.rope.scaling.factor`)),
      original_max_position_embeddings: num(md.get(`${arch}.rope.scaling.original_context_length`)),
    };
  }
  if (raw.sliding_window !== undefined && modelType !== 'mistral') raw.use_sliding_window = true;
  if (experts) {
    raw[modelType === 'mixtral' ? 'num_local_experts' : modelType === 'deepseek_v3' ? 'n_routed_experts' : 'num_experts'] = experts;
  }
  if (modelType === 'qwen2_moe' || modelType === 'qwen3_moe') {
    raw.norm_topk_prob ??= modelType === 'qwen3_moe';
    raw.decoder_sparse_step ??= 1;
  }
  if (modelType === 'deepseek_v3') Object.assign(raw, deepseekFields(md, arch, raw, where));
  const bos = num(md.get('tokenizer.ggml.bos_token_id'));
  const eos = num(md.get('tokenizer.ggml.eos_token_id'));
  if (bos !== undefined) raw.bos_token_id = bos;
  if (eos !== undefined) raw.eos_token_id = eos;
  return raw as RawConfig;
}

/**
 * MLA dimensions of a deepseek2 GGUF. Current llama.cpp files (split attn_k_b / attn_v_b) hold the per-head
 * sizes in key_length_mla = nope + rope and value_length_mla = v_head_dim (key_length / value_length are
 * the latent's, with head_count_kv 1); legacy files (one attn_kv_b) hold them in key_length / value_length.
 */
function deepseekFields(md: ReadonlyMap<string, GGUFValue>, arch: string, raw: Record<string, unknown>, where: string): Record<string, unknown> {
  const keyLengthMla = num(md.get(`${arch}.attention.key_length_mla`));
  const valueLengthMla = num(md.get(`${arch}.attention.value_length_mla`));
  if ((keyLengthMla === undefined) !== (valueLengthMla === undefined)) {
    throw new InvalidModelError(`${where}: deepseek2 GGUF has only one of attention.key_length_mla and attention.value_length_mla`);
  }
  const keyLength = keyLengthMla ?? num(md.get(`${arch}.attention.key_length`));
  const valueLength = valueLengthMla ?? num(md.get(`${arch}.attention.value_length`));
  const rope = num(md.get(`${arch}.rope.dimension_count`));
  if (keyLength === undefined || valueLength === undefined || rope === undefined) {
    throw new InvalidModelError(`${where}: deepseek2 GGUF lacks attention.key_length, attention.value_length or rope.dimension_count`);
  }
  if (keyLength <= rope)
    throw new InvalidModelError(`${where}: deepseek2 GGUF key length ${keyLength} leaves no no-rope part beside rope.dimension_count ${rope}`);
  if (raw.kv_lora_rank === undefined) throw new InvalidModelError(`${where}: deepseek2 GGUF lacks ${arch}.attention.kv_lora_rank`);
  const gating = num(md.get(`${arch}.expert_gating_func`));
  let ropeScaling = raw.rope_scaling as Record<string, unknown> | undefined;
  if (ropeScaling?.rope_type === 'yarn') {
    // llama.cpp's deepseek2: mscale_all_dim = yarn_log_multiplier / 0.1, and mscale the same (a rope
    // attention factor of 1); without the key, plain YaRN (attention factor 0.1 ln(factor) + 1).
    const logMul = num(md.get(`${arch}.rope.scaling.yarn_log_multiplier`));
    const m = logMul === undefined ? undefined : Number((logMul / 0.1).toPrecision(7));
    ropeScaling = {
      ...ropeScaling,
      ...(m !== undefined && { mscale: m, mscale_all_dim: m }),
      ...(md.has(`${arch}.rope.scaling.yarn_beta_fast`) && { beta_fast: num(md.get(`${arch}.rope.scaling.yarn_beta_fast`)) }),
      ...(md.has(`${arch}.rope.scaling.yarn_beta_slow`) && { beta_slow: num(md.get(`${arch}.rope.scaling.yarn_beta_slow`)) }),
    };
  }
  return {
    rope_scaling: ropeScaling,
    // MLA decompresses the latent into every head: per-head K and V, as config.json counts them (the
    // file's head_count_kv is 1, the latent's).
    num_key_value_heads: raw.num_attention_heads,
    qk_rope_head_dim: rope,
    qk_nope_head_dim: keyLength - rope,
    v_head_dim: valueLength,
    q_lora_rank: raw.q_lora_rank || null, // 0 (written for configs without q LoRA) is none
    first_k_dense_replace: raw.first_k_dense_replace ?? 0,
    moe_layer_freq: 1,
    n_shared_experts: raw.n_shared_experts ?? 0,
    routed_scaling_factor: raw.routed_scaling_factor ?? 1,
    n_group: raw.n_group ?? 1,
    topk_group: raw.topk_group ?? 1,
    norm_topk_prob: raw.norm_topk_prob ?? false,
    scoring_func: gating === 2 ? 'sigmoid' : 'softmax',
    rope_interleave: true,
  };
}
