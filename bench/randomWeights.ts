import { byteSizeOf, type DType } from '../src/gpu/tensor.js';
import { checkRange, type TensorInfo, type WeightSource } from '../src/weights/source.js';

/**
 * A WeightSource of random weights for the Hugging Face tensor names of a llama-style config (llama,
 * qwen2, qwen3, olmoe and other MoE layouts with per-expert tensors, deepseek_v3 with MLA). Matrices are stored in `dtype` as random
 * blocks with small scales; norms are ones. Generated on demand, deterministic per tensor name.
 */
export function randomWeightSource(config: Record<string, any>, dtype: DType): WeightSource {
  const H = config.hidden_size as number;
  const I = config.intermediate_size as number;
  const nH = config.num_attention_heads as number;
  const nKv = (config.num_key_value_heads ?? nH) as number;
  const hd = (config.head_dim ?? H / nH) as number;
  const V = config.vocab_size as number;
  const E = (config.num_experts ?? config.num_local_experts ?? config.n_routed_experts ?? 0) as number;
  const expertI = (config.moe_intermediate_size ?? I) as number;
  // DeepSeekMoE: the first layers dense, shared experts as one MLP of n_shared_experts x the expert size.
  const denseLayers = (config.first_k_dense_replace ?? 0) as number;
  const sharedI = ((config.n_shared_experts ?? 0) as number) * expertI;
  const tensors = new Map<string, TensorInfo>();
  const add = (name: string, shape: number[], dt: DType) =>
    tensors.set(name, { name, dtype: dt, shape, byteLength: byteSizeOf(dt, shape[0]! * (shape[1] ?? 1)) });
  add('model.embed_tokens.weight', [V, H], dtype);
  if (!config.tie_word_embeddings) add('lm_head.weight', [V, H], dtype);
  add('model.norm.weight', [H], 'f32');
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [H], 'f32');
    add(`${p}.post_attention_layernorm.weight`, [H], 'f32');
    if (config.kv_lora_rank) {
      // MLA (deepseek_v3): q without LoRA, the latent kv projection, and per-head k_nope | v out of the latent.
      const nope = config.qk_nope_head_dim as number;
      const rope = config.qk_rope_head_dim as number;
      const vd = config.v_head_dim as number;
      const r = config.kv_lora_rank as number;
      add(`${p}.self_attn.q_proj.weight`, [nH * (nope + rope), H], dtype);
      add(`${p}.self_attn.kv_a_proj_with_mqa.weight`, [r + rope, H], dtype);
      add(`${p}.self_attn.kv_a_layernorm.weight`, [r], 'f32');
      add(`${p}.self_attn.kv_b_proj.weight`, [nH * (nope + vd), r], dtype);
      add(`${p}.self_attn.o_proj.weight`, [H, nH * vd], dtype);
    } else {
      add(`${p}.self_attn.q_proj.weight`, [nH * hd, H], dtype);
      add(`${p}.self_attn.k_proj.weight`, [nKv * hd, H], dtype);
      add(`${p}.self_attn.v_proj.weight`, [nKv * hd, H], dtype);
      add(`${p}.self_attn.o_proj.weight`, [H, nH * hd], dtype);
    }
    if (config.model_type === 'qwen2') {
      add(`${p}.self_attn.q_proj.bias`, [nH * hd], 'f32');
      add(`${p}.self_attn.k_proj.bias`, [nKv * hd], 'f32');
      add(`${p}.self_attn.v_proj.bias`, [nKv * hd], 'f32');
    }
    if (config.model_type === 'olmoe') {
      add(`${p}.self_attn.q_norm.weight`, [nH * hd], 'f32');
      add(`${p}.self_attn.k_norm.weight`, [nKv * hd], 'f32');
    }
    if (config.model_type === 'qwen3' || config.model_type === 'qwen3_moe') {
      add(`${p}.self_attn.q_norm.weight`, [hd], 'f32');
      add(`${p}.self_attn.k_norm.weight`, [hd], 'f32');
    }
    if (E > 0 && l >= denseLayers) {
      add(`${p}.mlp.gate.weight`, [E, H], 'f32');
      for (let e = 0; e < E; e++) {
        add(`${p}.mlp.experts.${e}.gate_proj.weight`, [expertI, H], dtype);
        add(`${p}.mlp.experts.${e}.up_proj.weight`, [expertI, H], dtype);
        add(`${p}.mlp.experts.${e}.down_proj.weight`, [H, expertI], dtype);
      }
      if (sharedI > 0) {
        add(`${p}.mlp.shared_experts.gate_proj.weight`, [sharedI, H], dtype);
        add(`${p}.mlp.shared_experts.up_proj.weight`, [sharedI, H], dtype);
        add(`${p}.mlp.shared_experts.down_proj.weight`, [H, sharedI], dtype);
      }
    } else {
      add(`${p}.mlp.gate_proj.weight`, [I, H], dtype);
      add(`${p}.mlp.up_proj.weight`, [I, H], dtype);
      add(`${p}.mlp.down_proj.weight`, [H, I], dtype);
    }
  }
  return {
    tensors,
    async read(name) {
      return this.readRange(name, 0, tensors.get(name)?.byteLength ?? 0);
    },
    async readRange(name, byteOffset, byteLength) {
      const info = tensors.get(name);
      if (!info) throw new Error(`random weights: no tensor ${name}`);
      checkRange(info, byteOffset, byteLength, 'random weights');
      return randomBytes(info, hash(name), byteOffset, byteLength);
    },
  };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** A random u32 for word `i` of a tensor: the bytes of any range are the same whichever range is read. */
function mix(seed: number, i: number): number {
  let x = (seed ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Bytes [off, off + len) of a random payload with valid small scales: f16 d = 2^-7 (0x2000) in every
 * block header (2^-10 for Q8_0, whose int8 quants are 16 times larger). Built over the 4-byte words covering the range, with block headers at their absolute offsets.
 */
function randomBytes(info: TensorInfo, seed: number, off: number, len: number): Uint8Array {
  const a0 = off - (off % 4);
  const a1 = Math.ceil((off + len) / 4) * 4;
  const out = new Uint8Array(a1 - a0);
  const words = new Uint32Array(out.buffer);
  const f = new Float32Array(out.buffer);
  const take = () => out.slice(off - a0, off - a0 + len);
  if (info.shape.length === 1) {
    f.fill(info.name.endsWith('bias') ? 0 : 1);
    return take();
  }
  for (let i = 0; i < words.length; i++) words[i] = mix(seed, a0 / 4 + i);
  const setHalf = (at: number, h: number) => {
    out[at - a0] = h & 0xff;
    out[at - a0 + 1] = h >>> 8;
  };
  const blocks = (size: number, header: number[], d = 0x2000) => {
    for (let b = Math.ceil(a0 / size) * size; b < a1; b += size) for (const h of header) if (b + h < a1 && b + h >= a0) setHalf(b + h, d);
  };
  switch (info.dtype) {
    case 'f32':
      for (let i = 0; i < f.length; i++) f[i] = ((words[i]! & 0xffff) / 65536 - 0.5) * 0.05;
      break;
    case 'f16':
    case 'bf16':
      for (let i = 0; i < out.length; i += 2) setHalf(a0 + i, info.dtype === 'f16' ? 0x2000 | (out[i]! & 0x3ff) : 0x3c00 | (out[i]! & 0x7f));
      break;
    case 'q8_0':
      // d = 2^-10: int8 quants of up to 127 then weigh about as much as the 4-bit ones at 2^-7.
      blocks(34, [0], 0x1400);
      break;
    case 'q4_0':
      blocks(18, [0]);
      break;
    case 'q4_k':
      blocks(144, [0, 2]);
      break;
    case 'q6_k':
      blocks(210, [208]);
      break;
    default:
      throw new Error(`random weights: dtype ${info.dtype}`);
  }
  return take();
}
