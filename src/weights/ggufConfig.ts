import { InvalidModelError } from '../errors.js';
import type { GGUFTypedValue, GGUFValue } from './ggufFormat.js';
import type { GGUFLayout } from './ggufLayout.js';
import { meta } from './ggufWriter.js';
import type { RawConfig } from './source.js';

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

/** GGUF metadata of a HF config in its family's layout (the converter): general.architecture and the `{arch}.*` hyperparameters. */
export function layoutHparams(raw: RawConfig, layout: GGUFLayout): Map<string, GGUFTypedValue> {
  const arch = layout.arch;
  const out = new Map<string, GGUFTypedValue>([['general.architecture', meta.str(arch)]]);
  const value = (k: string): unknown => (k === 'rope_theta' ? ropeTheta(raw) : raw[k]);
  for (const [hf, g] of HPARAMS) {
    const v = value(hf);
    if (v === undefined || v === null) continue;
    if (hf === 'sliding_window' && !raw.use_sliding_window && !layout.slidingWindowAlways) continue;
    out.set(`${arch}.${g}`, BOOL_KEYS.has(hf) ? meta.bool(Boolean(v)) : FLOAT_KEYS.has(hf) ? meta.f32(Number(v)) : meta.u32(Number(v)));
  }
  const experts = (raw.num_experts ?? raw.num_local_experts ?? raw.n_routed_experts) as number | undefined; // the config.json spellings
  if (experts) out.set(`${arch}.expert_count`, meta.u32(experts));
  const heads = Number(raw.num_attention_heads);
  const headDim = (raw.head_dim as number | undefined) ?? Number(raw.hidden_size) / heads;
  if (!Number.isInteger(headDim)) throw new InvalidModelError(`config.json: hidden_size ${raw.hidden_size} is not a multiple of num_attention_heads ${heads}`);
  if (!layout.mla) {
    out.set(`${arch}.attention.key_length`, meta.u32(headDim));
    out.set(`${arch}.attention.value_length`, meta.u32(headDim));
    out.set(`${arch}.rope.dimension_count`, meta.u32(Math.round(headDim * Number(raw.partial_rotary_factor ?? 1))));
  }
  for (const [k, v] of layout.write?.(raw) ?? []) out.set(`${arch}.${k}`, v);
  return out;
}

export const num = (v: GGUFValue | undefined): number | undefined => (v === undefined ? undefined : Number(v));

/**
 * An HF-style config.json object from GGUF metadata, for the same config normalisation as safetensors
 * checkpoints, for the family `modelType` of the file's architecture (its `layout`). `hasOutput` says
 * whether the file has output.weight (else the embeddings are tied).
 */
export function configFromGGUF(md: ReadonlyMap<string, GGUFValue>, hasOutput: boolean, modelType: string, layout: GGUFLayout, where = 'model.gguf'): RawConfig {
  const arch = layout.arch;
  const experts = num(md.get(`${arch}.expert_count`)) ?? 0;
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
  if (keyLength !== undefined && !layout.mla) raw.head_dim = keyLength;
  const rot = num(md.get(`${arch}.rope.dimension_count`));
  const headDim = (raw.head_dim as number | undefined) ?? Number(raw.hidden_size) / Number(raw.num_attention_heads);
  if (rot !== undefined && rot !== headDim && !layout.mla) raw.partial_rotary_factor = rot / headDim;
  const scaling = md.get(`${arch}.rope.scaling.type`);
  if (scaling && scaling !== 'none') {
    raw.rope_scaling = {
      rope_type: scaling,
      factor: num(md.get(`${arch}.rope.scaling.factor`)),
      original_max_position_embeddings: num(md.get(`${arch}.rope.scaling.original_context_length`)),
    };
  }
  if (raw.sliding_window !== undefined && !layout.slidingWindowAlways) raw.use_sliding_window = true;
  if (experts) raw[layout.expertCountKey ?? 'num_experts'] = experts;
  for (const [k, v] of Object.entries(layout.defaults ?? {})) raw[k] ??= v;
  if (layout.read) Object.assign(raw, layout.read(md, raw, where));
  const bos = num(md.get('tokenizer.ggml.bos_token_id'));
  const eos = num(md.get('tokenizer.ggml.eos_token_id'));
  if (bos !== undefined) raw.bos_token_id = bos;
  if (eos !== undefined) raw.eos_token_id = eos;
  return raw as RawConfig;
}
