/**
 * Tensor names and hyperparameters between Hugging Face checkpoints and llama.cpp's GGUF (gguf-py
 * constants.py / tensor_mapping.py, convert_hf_to_gguf.py). One table serves the reader and the converter;
 * what differs by architecture comes from its GGUFLayout.
 */

import type { GGUFLayout } from './ggufLayout.js';

const GLOBAL: [hf: string, gguf: string][] = [
  ['model.embed_tokens.weight', 'token_embd.weight'],
  ['model.norm.weight', 'output_norm.weight'],
  ['lm_head.weight', 'output.weight'],
];

/** Per-layer names: HF suffix after `model.layers.{i}.` → GGUF suffix after `blk.{i}.` (weight and bias alike). */
const LAYER: [hf: string, gguf: string][] = [
  ['input_layernorm', 'attn_norm'],
  ['self_attn.q_proj', 'attn_q'],
  ['self_attn.k_proj', 'attn_k'],
  ['self_attn.v_proj', 'attn_v'],
  ['self_attn.o_proj', 'attn_output'],
  ['self_attn.q_norm', 'attn_q_norm'],
  ['self_attn.k_norm', 'attn_k_norm'],
  ['self_attn.q_a_proj', 'attn_q_a'],
  ['self_attn.q_a_layernorm', 'attn_q_a_norm'],
  ['self_attn.q_b_proj', 'attn_q_b'],
  ['self_attn.kv_a_proj_with_mqa', 'attn_kv_a_mqa'],
  ['self_attn.kv_a_layernorm', 'attn_kv_a_norm'],
  ['self_attn.kv_b_proj', 'attn_kv_b'],
  ['post_attention_layernorm', 'ffn_norm'],
  ['mlp.gate_proj', 'ffn_gate'],
  ['mlp.up_proj', 'ffn_up'],
  ['mlp.down_proj', 'ffn_down'],
  ['mlp.gate', 'ffn_gate_inp'],
  ['block_sparse_moe.gate', 'ffn_gate_inp'],
  ['mlp.shared_expert.gate_proj', 'ffn_gate_shexp'],
  ['mlp.shared_expert.up_proj', 'ffn_up_shexp'],
  ['mlp.shared_expert.down_proj', 'ffn_down_shexp'],
  ['mlp.shared_experts.gate_proj', 'ffn_gate_shexp'],
  ['mlp.shared_experts.up_proj', 'ffn_up_shexp'],
  ['mlp.shared_experts.down_proj', 'ffn_down_shexp'],
  ['mlp.shared_expert_gate', 'ffn_gate_inp_shexp'],
];

/** Routed experts: HF per-expert name parts → GGUF stacked tensor ([E, rows, cols] in PyTorch order). */
const EXPERTS: [hfBlock: string, hfProj: string, gguf: string][] = [
  ['mlp', 'gate_proj', 'ffn_gate_exps'],
  ['mlp', 'up_proj', 'ffn_up_exps'],
  ['mlp', 'down_proj', 'ffn_down_exps'],
  ['block_sparse_moe', 'w1', 'ffn_gate_exps'],
  ['block_sparse_moe', 'w3', 'ffn_up_exps'],
  ['block_sparse_moe', 'w2', 'ffn_down_exps'],
];

const HF_LAYER = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/;
const HF_EXPERT = /^model\.layers\.(\d+)\.(mlp|block_sparse_moe)\.experts\.(\d+)\.(\w+)\.weight$/;

/** The GGUF name of a (non-expert) HF tensor, or undefined when llama.cpp has no such tensor. */
export function ggufName(hf: string): string | undefined {
  const g = GLOBAL.find(([h]) => h === hf);
  if (g) return g[1];
  if (hf.endsWith('.e_score_correction_bias')) {
    const m = /^model\.layers\.(\d+)\.mlp\.gate\.e_score_correction_bias$/.exec(hf);
    return m ? `blk.${m[1]}.exp_probs_b.bias` : undefined;
  }
  const m = HF_LAYER.exec(hf);
  if (!m) return undefined;
  const l = LAYER.find(([h]) => h === m[2]);
  return l ? `blk.${m[1]}.${l[1]}.${m[3]}` : undefined;
}

/** An HF expert tensor → its GGUF stacked tensor and expert index. */
export function ggufExpertName(hf: string): { gguf: string; expert: number } | undefined {
  const m = HF_EXPERT.exec(hf);
  if (!m) return undefined;
  const e = EXPERTS.find(([b, p]) => b === m[2] && p === m[4]);
  return e ? { gguf: `blk.${m[1]}.${e[2]}.weight`, expert: Number(m[3]) } : undefined;
}

/** The HF names of a GGUF tensor: one name, or one per expert for stacked experts (`experts` = count). */
export function hfNames(gguf: string, layout: GGUFLayout, experts: number): string[] {
  const g = GLOBAL.find(([, n]) => n === gguf);
  if (g) return [g[0]];
  const bias = /^blk\.(\d+)\.exp_probs_b\.bias$/.exec(gguf);
  if (bias) return [`model.layers.${bias[1]}.mlp.gate.e_score_correction_bias`];
  const m = /^blk\.(\d+)\.(\w+)\.(weight|bias)$/.exec(gguf);
  if (!m) return [];
  const block = layout.moeBlock ?? 'mlp';
  const exp = EXPERTS.find(([b, , n]) => b === block && n === m[2]);
  if (exp) return Array.from({ length: experts }, (_, e) => `model.layers.${m[1]}.${block}.experts.${e}.${exp[1]}.weight`);
  const shared = `${layout.sharedExperts ?? 'mlp.shared_expert'}.`;
  const l = LAYER.find(([h, n]) => n === m[2] && (!/shared_experts?\./.test(h) || h.startsWith(shared)) && (n !== 'ffn_gate_inp' || h.startsWith(block)));
  return l ? [`model.layers.${m[1]}.${l[0]}.${m[3]}`] : [];
}

/**
 * Inverse of convert_hf_to_gguf's LlamaModel.permute for one head group: GGUF row h*d + 2i + j holds HF
 * row h*d + j*d/2 + i. Returns, for each HF row, the GGUF row to take it from.
 */
export function unpermuteRows(rows: number, heads: number): Int32Array {
  const d = rows / heads;
  const half = d / 2;
  const from = new Int32Array(rows);
  for (let h = 0; h < heads; h++) for (let j = 0; j < 2; j++) for (let i = 0; i < half; i++) from[h * d + j * half + i] = h * d + 2 * i + j;
  return from;
}

/** The converter's direction: for each GGUF row, the HF row it holds. */
export function permuteRows(rows: number, heads: number): Int32Array {
  const inv = unpermuteRows(rows, heads);
  const out = new Int32Array(rows);
  inv.forEach((g, hf) => (out[g] = hf));
  return out;
}

/** Where a deepseek2 layer's kv_b_proj is split: heads, per-head no-rope K rows, V rows, latent rank. */
export interface KvBSplit {
  readonly heads: number;
  readonly nope: number;
  readonly v: number;
  readonly rank: number;
}

/**
 * llama.cpp's MLA layout (convert_hf_to_gguf DeepseekV2Model.modify_tensors): HF kv_b_proj
 * [heads * (nope + v), rank] (per head nope K rows, then v V rows) → attn_k_b, PyTorch order
 * [heads, rank, nope] (k_b = kv_b[h, :nope, :]ᵀ; ggml dims {nope, rank, heads}), and attn_v_b
 * [heads, v, rank] (ggml dims {rank, v, heads}).
 */
export function splitKvB(kvb: Float32Array, s: KvBSplit): { k: Float32Array; v: Float32Array } {
  const { heads, nope, v, rank: R } = s;
  const k = new Float32Array(heads * R * nope);
  const vb = new Float32Array(heads * v * R);
  for (let h = 0; h < heads; h++) {
    const base = h * (nope + v) * R;
    for (let n = 0; n < nope; n++) for (let r = 0; r < R; r++) k[(h * R + r) * nope + n] = kvb[base + n * R + r]!;
    vb.set(kvb.subarray(base + nope * R, base + (nope + v) * R), h * v * R);
  }
  return { k, v: vb };
}

/** The inverse of splitKvB: HF kv_b_proj [heads * (nope + v), rank] from attn_k_b and attn_v_b. */
export function joinKvB(k: Float32Array, vb: Float32Array, s: KvBSplit): Float32Array {
  const { heads, nope, v, rank: R } = s;
  const kvb = new Float32Array(heads * (nope + v) * R);
  for (let h = 0; h < heads; h++) {
    const base = h * (nope + v) * R;
    for (let n = 0; n < nope; n++) for (let r = 0; r < R; r++) kvb[base + n * R + r] = k[(h * R + r) * nope + n]!;
    kvb.set(vb.subarray(h * v * R, (h + 1) * v * R), base + nope * R);
  }
  return kvb;
}
