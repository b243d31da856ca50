import { byteSizeOf, type DType } from '../src/gpu/tensor.js';
import type { TensorInfo, WeightSource } from '../src/weights/source.js';

/**
 * A WeightSource of random weights for the Hugging Face tensor names of a llama-style config (llama,
 * qwen2, olmoe and other MoE layouts with per-expert tensors). Matrices are stored in `dtype` as random
 * blocks with small scales; norms are ones. Generated on demand, deterministic per tensor name.
 */
export function randomWeightSource(config: Record<string, any>, dtype: DType): WeightSource {
  const H = config.hidden_size as number;
  const I = config.intermediate_size as number;
  const nH = config.num_attention_heads as number;
  const nKv = (config.num_key_value_heads ?? nH) as number;
  const hd = (config.head_dim ?? H / nH) as number;
  const V = config.vocab_size as number;
  const E = (config.num_experts ?? config.num_local_experts ?? 0) as number;
  const expertI = (config.moe_intermediate_size ?? I) as number;
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
    add(`${p}.self_attn.q_proj.weight`, [nH * hd, H], dtype);
    add(`${p}.self_attn.k_proj.weight`, [nKv * hd, H], dtype);
    add(`${p}.self_attn.v_proj.weight`, [nKv * hd, H], dtype);
    add(`${p}.self_attn.o_proj.weight`, [H, nH * hd], dtype);
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
    if (E > 0) {
      add(`${p}.mlp.gate.weight`, [E, H], 'f32');
      for (let e = 0; e < E; e++) {
        add(`${p}.mlp.experts.${e}.gate_proj.weight`, [expertI, H], dtype);
        add(`${p}.mlp.experts.${e}.up_proj.weight`, [expertI, H], dtype);
        add(`${p}.mlp.experts.${e}.down_proj.weight`, [H, expertI], dtype);
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
      const info = tensors.get(name);
      if (!info) throw new Error(`random weights: no tensor ${name}`);
      return randomBytes(info, hash(name));
    },
  };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Random payload with valid small scales: f16 d = 2^-7 (0x2000) in every block header. */
function randomBytes(info: TensorInfo, seed: number): Uint8Array {
  const out = new Uint8Array(info.byteLength);
  if (info.shape.length === 1) {
    new Float32Array(out.buffer).fill(info.name.endsWith('bias') ? 0 : 1);
    return out;
  }
  const words = new Uint32Array(out.buffer, 0, out.byteLength >>> 2);
  let x = seed | 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  const setHalf = (off: number, h: number) => {
    out[off] = h & 0xff;
    out[off + 1] = h >>> 8;
  };
  const d = 0x2000;
  switch (info.dtype) {
    case 'f32': {
      const f = new Float32Array(out.buffer);
      for (let i = 0; i < f.length; i++) f[i] = ((words[i]! & 0xffff) / 65536 - 0.5) * 0.05;
      break;
    }
    case 'f16':
    case 'bf16':
      for (let i = 0; i + 1 < out.length; i += 2) setHalf(i, info.dtype === 'f16' ? 0x2000 | (out[i]! & 0x3ff) : 0x3c00 | (out[i]! & 0x7f));
      break;
    case 'q8_0':
      for (let b = 0; b < out.length; b += 34) setHalf(b, d);
      break;
    case 'q4_0':
      for (let b = 0; b < out.length; b += 18) setHalf(b, d);
      break;
    case 'q4_k':
      for (let b = 0; b < out.length; b += 144) {
        setHalf(b, d);
        setHalf(b + 2, d);
      }
      break;
    case 'q6_k':
      for (let b = 0; b < out.length; b += 210) setHalf(b + 208, d);
      break;
    default:
      throw new Error(`random weights: dtype ${info.dtype}`);
  }
  return out;
}
