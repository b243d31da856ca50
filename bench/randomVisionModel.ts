// Random weights in a real vision-language model's shape (Qwen2-VL-2B, SmolVLM-256M) as a Hugging Face model's
// files: config.json, preprocessor_config.json and model.safetensors (matrices in f16, norms ones, biases zeros),
// made in memory as the engine reads them (`{ files }`, bench/visionBench.ts) or written out as a folder for
// `weblm bench --model DIR --image FILE` (bench/makeRandomVisionModel.ts). Made on the machine that benchmarks.
import { open, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidModelError, ModelNotFoundError } from '../src/errors.js';
import type { ByteSource, ModelFiles } from '../src/weights/files.js';
import type { TensorInfo } from '../src/weights/source.js';
import { randomWeightSource } from './randomWeights.js';
import { syntheticTokenizer, type SyntheticTokenizer } from './syntheticTokenizer.js';

interface VisionShape {
  readonly config: Record<string, unknown>;
  readonly preprocessor: Record<string, unknown>;
  /** The text model as a flat llama / qwen2 config (its tensors' names and shapes), and where its tensors live. */
  readonly text: Record<string, unknown>;
  readonly textPrefix: string;
  /** The vision tower's and projector's tensors: [name, shape]. */
  readonly vision: () => [string, number[]][];
  /** A synthetic tokenizer where the engine needs one (Idefics3 expands an image token with it). */
  readonly tokenizer?: () => SyntheticTokenizer;
}

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** Qwen2-VL of a text model (a flat qwen2 config) and a vision tower of `depth` blocks, `embed` wide, `heads` heads. */
function qwen2vlShape(text: Record<string, number | string | boolean>, vis: { depth: number; embed: number; heads: number }, maxPixels: number): VisionShape {
  const H = text.hidden_size as number;
  const hd = H / (text.num_attention_heads as number);
  // mrope_section in Qwen2-VL's proportions ([16, 24, 24] of 64 pairs): 1/4, 3/8, 3/8 of the rotary pairs.
  const section = [hd / 8, (3 * hd) / 16, (3 * hd) / 16];
  return {
    config: {
      ...text,
      model_type: 'qwen2_vl',
      architectures: ['Qwen2VLForConditionalGeneration'],
      rope_scaling: { type: 'mrope', mrope_section: section },
      image_token_id: 151655,
      video_token_id: 151656,
      vision_start_token_id: 151652,
      vision_end_token_id: 151653,
      vision_config: {
        depth: vis.depth,
        embed_dim: vis.embed,
        hidden_size: H,
        hidden_act: 'quick_gelu',
        mlp_ratio: 4,
        num_heads: vis.heads,
        in_channels: 3,
        patch_size: 14,
        spatial_merge_size: 2,
        temporal_patch_size: 2,
      },
    },
    preprocessor: {
      image_processor_type: 'Qwen2VLImageProcessor',
      min_pixels: 3136,
      max_pixels: maxPixels,
      patch_size: 14,
      temporal_patch_size: 2,
      merge_size: 2,
      resample: 3,
      image_mean: CLIP_MEAN,
      image_std: CLIP_STD,
    },
    text,
    textPrefix: 'model.',
    vision: () => {
      const D = vis.embed;
      const M = D * 4;
      const t: [string, number[]][] = [['visual.patch_embed.proj.weight', [D, 3, 2, 14, 14]]];
      for (let i = 0; i < vis.depth; i++) {
        const b = `visual.blocks.${i}.`;
        t.push([`${b}norm1.weight`, [D]], [`${b}norm1.bias`, [D]], [`${b}norm2.weight`, [D]], [`${b}norm2.bias`, [D]]);
        t.push([`${b}attn.qkv.weight`, [3 * D, D]], [`${b}attn.qkv.bias`, [3 * D]], [`${b}attn.proj.weight`, [D, D]], [`${b}attn.proj.bias`, [D]]);
        t.push([`${b}mlp.fc1.weight`, [4 * D, D]], [`${b}mlp.fc1.bias`, [4 * D]], [`${b}mlp.fc2.weight`, [D, 4 * D]], [`${b}mlp.fc2.bias`, [D]]);
      }
      t.push(['visual.merger.ln_q.weight', [D]], ['visual.merger.ln_q.bias', [D]], ['visual.merger.mlp.0.weight', [M, M]], ['visual.merger.mlp.0.bias', [M]]);
      t.push(['visual.merger.mlp.2.weight', [H, M]], ['visual.merger.mlp.2.bias', [H]]);
      return t;
    },
  };
}

/** SmolVLM (Idefics3) of a llama text model and a SigLIP tower over `image`-pixel tiles; a synthetic tokenizer with SmolVLM's image tokens. */
function smolvlmShape(
  text: Record<string, number | string | boolean>,
  vis: { hidden: number; intermediate: number; layers: number; heads: number; image: number; patch: number; scale: number },
  longestEdge: number,
): VisionShape {
  const H = text.hidden_size as number;
  return {
    config: {
      model_type: 'idefics3',
      architectures: ['Idefics3ForConditionalGeneration'],
      image_token_id: 49190,
      scale_factor: vis.scale,
      tie_word_embeddings: true,
      text_config: text,
      vision_config: {
        model_type: 'idefics3_vision',
        hidden_size: vis.hidden,
        intermediate_size: vis.intermediate,
        num_hidden_layers: vis.layers,
        num_attention_heads: vis.heads,
        num_channels: 3,
        image_size: vis.image,
        patch_size: vis.patch,
        layer_norm_eps: 1e-6,
        hidden_act: 'gelu_pytorch_tanh',
      },
    },
    preprocessor: {
      image_processor_type: 'Idefics3ImageProcessor',
      do_image_splitting: true,
      size: { longest_edge: longestEdge },
      max_image_size: { longest_edge: vis.image },
      resample: 1,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
    },
    text,
    textPrefix: 'model.text_model.',
    // SmolVLM's image tokens after the 49152 ordinary ones, <image> at image_token_id 49190.
    tokenizer: () => {
      const specials = new Map<number, string>([[49152, '<global-img>']]);
      for (let r = 1; r <= 6; r++) for (let c = 1; c <= 6; c++) specials.set(49152 + (r - 1) * 6 + c, `<row_${r}_col_${c}>`);
      specials.set(49189, '<fake_token_around_image>').set(49190, '<image>').set(49279, '<end_of_utterance>');
      return syntheticTokenizer(49152, specials, 'qwen2', undefined, '<end_of_utterance>');
    },
    vision: () => {
      const D = vis.hidden;
      const I = vis.intermediate;
      const v = 'model.vision_model.';
      const t: [string, number[]][] = [
        [`${v}embeddings.patch_embedding.weight`, [D, 3, vis.patch, vis.patch]],
        [`${v}embeddings.patch_embedding.bias`, [D]],
        [`${v}embeddings.position_embedding.weight`, [(vis.image / vis.patch) ** 2, D]],
      ];
      for (let i = 0; i < vis.layers; i++) {
        const l = `${v}encoder.layers.${i}.`;
        t.push([`${l}layer_norm1.weight`, [D]], [`${l}layer_norm1.bias`, [D]], [`${l}layer_norm2.weight`, [D]], [`${l}layer_norm2.bias`, [D]]);
        for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) t.push([`${l}self_attn.${p}.weight`, [D, D]], [`${l}self_attn.${p}.bias`, [D]]);
        t.push([`${l}mlp.fc1.weight`, [I, D]], [`${l}mlp.fc1.bias`, [I]], [`${l}mlp.fc2.weight`, [D, I]], [`${l}mlp.fc2.bias`, [D]]);
      }
      t.push([`${v}post_layernorm.weight`, [D]], [`${v}post_layernorm.bias`, [D]]);
      t.push(['model.connector.modality_projection.proj.weight', [H, D * vis.scale ** 2]]);
      return t;
    },
  };
}

const qwenText = (o: Record<string, number | boolean>) => ({
  model_type: 'qwen2',
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 151643,
  eos_token_id: 151645,
  vocab_size: 151936,
  ...o,
});
const llamaText = (o: Record<string, number | boolean>) => ({
  model_type: 'llama',
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 1,
  eos_token_id: 49279,
  vocab_size: 49280,
  ...o,
});

export const visionShapes: Record<string, VisionShape> = {
  // Qwen2-VL-2B-Instruct: the vision tower (depth 32, embed 1280, 16 heads, merger to 1536), Qwen2-1.5B's text model.
  'qwen2-vl-2b': qwen2vlShape(
    qwenText({ hidden_size: 1536, intermediate_size: 8960, num_hidden_layers: 28, num_attention_heads: 12, num_key_value_heads: 2 }),
    { depth: 32, embed: 1280, heads: 16 },
    12845056,
  ),
  // SmolVLM-256M-Instruct: SigLIP-B/16 at 512 px (12 layers, 768 wide), pixel shuffle 4, SmolLM2-135M's text model.
  'smolvlm-256m': smolvlmShape(
    llamaText({ hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, head_dim: 64 }),
    { hidden: 768, intermediate: 3072, layers: 12, heads: 12, image: 512, patch: 16, scale: 4 },
    2048,
  ),
  // Tiny shapes to check the harness on a CPU machine (never timed there).
  'qwen2-vl-tiny': qwen2vlShape(
    qwenText({ hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 151936 }),
    { depth: 2, embed: 32, heads: 2 },
    28 * 28 * 16,
  ),
  'smolvlm-tiny': smolvlmShape(
    llamaText({ hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16 }),
    { hidden: 32, intermediate: 64, layers: 2, heads: 4, image: 32, patch: 8, scale: 2 },
    64,
  ),
};

/** 4 MiB of random f16 in [2^-7, 2^-6) (xorshift), made once: matrices read windows of it (random weights need no more entropy). */
const PATTERN = (() => {
  const h = new Uint16Array(2 << 20);
  let x = 0x9e3779b9;
  for (let i = 0; i < h.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    h[i] = 0x2000 | (x & 0x3ff);
  }
  return new Uint8Array(h.buffer);
})();

/** Bytes [off, off + len) of a random tensor (off even): matrices f16 from PATTERN at a per-tensor start, vectors f32 (ones; biases zeros). */
function tensorBytes(info: TensorInfo, seed: number, off: number, len: number): Uint8Array {
  if (info.shape.length === 1) return new Uint8Array(new Float32Array(len / 4).fill(info.name.endsWith('bias') ? 0 : 1).buffer);
  const out = new Uint8Array(len);
  const P = PATTERN.length;
  let at = (((seed * 7919) % (P / 2)) * 2 + off) % P;
  for (let done = 0; done < len;) {
    const n = Math.min(len - done, P - at);
    out.set(PATTERN.subarray(at, at + n), done);
    done += n;
    at = 0;
  }
  return out;
}

interface Layout {
  readonly head: Uint8Array; // the 8-byte length and the JSON header
  readonly tensors: readonly { readonly info: TensorInfo; readonly at: number }[]; // at: offset in the file
  readonly size: number;
}

function layout(s: VisionShape): Layout {
  const infos: TensorInfo[] = [];
  for (const t of randomWeightSource(s.text, 'f16').tensors.values()) {
    infos.push({ ...t, name: t.name.startsWith('model.') ? s.textPrefix + t.name.slice('model.'.length) : t.name });
  }
  for (const [name, shape] of s.vision()) {
    const n = shape.reduce((a, b) => a * b, 1);
    infos.push({ name, shape, dtype: shape.length === 1 ? 'f32' : 'f16', byteLength: n * (shape.length === 1 ? 4 : 2) });
  }
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const t of infos) {
    header[t.name] = { dtype: t.dtype === 'f32' ? 'F32' : 'F16', shape: t.shape, data_offsets: [at, at + t.byteLength] };
    at += t.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(new TextEncoder().encode(json), 8);
  let pos = head.length;
  const tensors = infos.map((info) => ({ info, at: (pos += info.byteLength) - info.byteLength }));
  return { head, tensors, size: pos };
}

/** model.safetensors of random weights, made on read: the header, then each tensor's bytes over the range asked. */
function safetensorsSource(l: Layout): ByteSource {
  return {
    size: l.size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > l.size)
        throw new InvalidModelError(`random model.safetensors: bytes ${offset}..${offset + length} pass ${l.size}`);
      const out = new Uint8Array(length);
      const end = offset + length;
      if (offset < l.head.length) out.set(l.head.subarray(offset, Math.min(end, l.head.length)));
      // The first tensor that ends after offset (binary search), then on while tensors start before end.
      let lo = 0;
      let hi = l.tensors.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const t = l.tensors[mid]!;
        if (t.at + t.info.byteLength <= offset) lo = mid + 1;
        else hi = mid;
      }
      for (let k = lo; k < l.tensors.length && l.tensors[k]!.at < end; k++) {
        const { info, at } = l.tensors[k]!;
        const from = Math.max(offset, at) - at;
        const to = Math.min(end, at + info.byteLength) - at;
        const a0 = from - (from % 4);
        const a1 = Math.min(info.byteLength, Math.ceil(to / 4) * 4);
        const bytes = tensorBytes(info, k + 1, a0, a1 - a0);
        out.set(bytes.subarray(from - a0, to - a0), at + from - offset);
      }
      return out;
    },
  };
}

/** A random-weight model of `shape` as the files engine.load reads (`{ files }`): config.json, preprocessor_config.json, model.safetensors. */
export function randomVisionFiles(shape: string): ModelFiles {
  const s = visionShapes[shape];
  if (!s) throw new Error(`unknown shape ${shape} (${Object.keys(visionShapes).join(', ')})`);
  const l = layout(s);
  const texts: Record<string, string> = {
    'config.json': JSON.stringify(s.config, null, 1),
    'preprocessor_config.json': JSON.stringify(s.preprocessor, null, 1),
  };
  const tok = s.tokenizer?.();
  if (tok) {
    texts['tokenizer.json'] = JSON.stringify(tok.tokenizerJson);
    texts['tokenizer_config.json'] = JSON.stringify(tok.tokenizerConfig);
  }
  const location = `random:${shape}`;
  return {
    location,
    has: async (path) => path in texts || path === 'model.safetensors',
    async open(path) {
      if (path === 'model.safetensors') return safetensorsSource(l);
      if (path in texts) {
        const b = new TextEncoder().encode(texts[path]);
        return { size: b.length, read: async (o, n) => b.slice(o, o + n) };
      }
      throw new ModelNotFoundError(`${location}: no ${path}`);
    },
    async text(path) {
      if (path in texts) return texts[path]!;
      throw new ModelNotFoundError(`${location}: no ${path}`);
    },
    list: async () => [...Object.keys(texts), 'model.safetensors'],
  };
}

/** Writes the model as a folder (for `weblm bench --model DIR`); returns its tensors and the bytes of model.safetensors. */
export async function writeRandomVisionModel(shape: string, dir: string): Promise<{ tensors: number; bytes: number }> {
  const files = randomVisionFiles(shape);
  await mkdir(dir, { recursive: true });
  for (const f of (await files.list!()).filter((f) => f.endsWith('.json'))) await writeFile(join(dir, f), await files.text(f));
  const src = await files.open('model.safetensors');
  const fh = await open(join(dir, 'model.safetensors'), 'w');
  try {
    const CHUNK = 64 << 20;
    for (let off = 0; off < src.size; off += CHUNK) await fh.write(await src.read(off, Math.min(CHUNK, src.size - off)));
  } finally {
    await fh.close();
  }
  return { tensors: layout(visionShapes[shape]!).tensors.length, bytes: src.size };
}
