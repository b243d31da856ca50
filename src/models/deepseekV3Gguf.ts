import { InvalidModelError, UnsupportedModelError } from '../errors.js';
import { num } from '../weights/ggufConfig.js';
import type { GGUFTypedValue, GGUFValue } from '../weights/ggufFormat.js';
import type { GGUFLayout } from '../weights/ggufLayout.js';
import { meta } from '../weights/ggufWriter.js';
import type { RawConfig } from './config.js';

/** DeepSeek-V3 / R1 in llama.cpp's `deepseek2` files: MLA with the split kv_b_proj, its own head sizes and YaRN keys. */
export const deepseekV3Gguf: GGUFLayout = {
  arch: 'deepseek2',
  expertCountKey: 'n_routed_experts',
  sharedExperts: 'mlp.shared_experts',
  mla: true,
  write: writeHparams,
  read: readHparams,
};

/**
 * deepseek2 hyperparameters as llama.cpp's converter (DeepseekV2Model.set_gguf_parameters) writes them for
 * MLA: one KV head of key_length kv_lora_rank + rope and value_length kv_lora_rank (the latent), the per-head
 * sizes in key_length_mla / value_length_mla. Also the router's gating function (sigmoid for DeepSeek-V3,
 * whose config.json may leave scoring_func out), expert_shared_count (llama.cpp requires it) and
 * q_lora_rank 0 for configs without q LoRA (llama.cpp requires the key unless the layer count is a
 * "lite" one, 26 or 27; 0 selects attn_q).
 */
function writeHparams(raw: RawConfig): [string, GGUFTypedValue][] {
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
function rawRope(raw: RawConfig): Record<string, unknown> {
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
  const r = rawRope(raw);
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

/**
 * MLA dimensions of a deepseek2 GGUF. Current llama.cpp files (split attn_k_b / attn_v_b) hold the per-head
 * sizes in key_length_mla = nope + rope and value_length_mla = v_head_dim (key_length / value_length are
 * the latent's, with head_count_kv 1); legacy files (one attn_kv_b) hold them in key_length / value_length.
 */
function readHparams(md: ReadonlyMap<string, GGUFValue>, raw: Readonly<Record<string, unknown>>, where: string): Record<string, unknown> {
  const arch = 'deepseek2';
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
