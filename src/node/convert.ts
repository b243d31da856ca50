import { open, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { InvalidArgumentError, InvalidModelError, UnsupportedModelError } from '../errors.js';
import { numel, type DType } from '../gpu/tensor.js';
import type { RawConfig } from '../models/config.js';
import { ggufHparams, ggufLayoutOf } from '../models/gguf.js';
import { FILE_TYPE, type GGUFTypedValue } from '../weights/ggufFormat.js';
import { ggufExpertName, ggufName, permuteRows, splitKvB, type KvBSplit } from '../weights/ggufNames.js';
import { ggufTokenizerMetadata } from '../weights/ggufTokenizer.js';
import { layoutGGUF, meta, type GGUFTensorSpec } from '../weights/ggufWriter.js';
import { toF32 } from '../weights/loadTensors.js';
import { quantize } from '../weights/quant/index.js';
import { openSafetensors } from '../weights/safetensors.js';
import type { WeightSource } from '../weights/source.js';
import { folderFiles } from './folderFiles.js';

export type ConvertType = 'f32' | 'f16' | 'q8_0' | 'q4_0';
export const CONVERT_TYPES: readonly ConvertType[] = ['f32', 'f16', 'q8_0', 'q4_0'];

export interface ConvertOptions {
  /** A Hugging Face model folder: config.json, model.safetensors[.index.json], tokenizer.json (optional). */
  model: string;
  out: string;
  type: ConvertType;
  onTensor?: (name: string, done: number, total: number) => void;
}

/** What a GGUF file is written from: a config, tensors under Hugging Face names, and a tokenizer. */
export interface GGUFModelInput {
  readonly raw: RawConfig;
  readonly weights: WeightSource;
  /** tokenizer.json and tokenizer_config.json (with its chat_template) as objects. */
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
  /** general.name */
  readonly name: string;
}

/** One GGUF tensor: its spec and where its HF values come from (several sources for stacked experts). */
interface Planned extends GGUFTensorSpec {
  readonly sources: readonly string[];
  /** Permute rows as convert_hf_to_gguf does for llama q/k (heads). */
  readonly permuteHeads?: number;
  /** deepseek2: this is one half (attn_k_b or attn_v_b) of the source kv_b_proj, split as llama.cpp's MLA layout. */
  readonly kvB?: KvBSplit & { readonly part: 'k' | 'v' };
}

/** GGUF tensors llama.cpp's converter keeps in f32 whatever the file type: the MoE router. */
const KEPT_F32 = /\.ffn_gate_inp(_shexp)?\.weight$/;

/** The stored dtype of a tensor of `dims` (ggml order) for the requested file type, as llama.cpp's converter picks. */
function pickDType(type: ConvertType, name: string, dims: readonly number[]): DType {
  if (dims.length < 2 || type === 'f32' || KEPT_F32.test(name)) return 'f32';
  if ((type === 'q8_0' || type === 'q4_0') && dims[0]! % 32 !== 0) return 'f16';
  return type;
}

function plan(src: WeightSource, raw: RawConfig, type: ConvertType): Planned[] {
  const layout = ggufLayoutOf(String(raw.model_type));
  const heads = Number(raw.num_attention_heads);
  const kvHeads = Number(raw.num_key_value_heads ?? heads);
  const out: Planned[] = [];
  const stacks = new Map<string, { experts: Map<number, string>; shape: readonly number[] }>();
  const layers = Number(raw.num_hidden_layers);
  for (const [name, t] of src.tensors) {
    if (name.endsWith('rotary_emb.inv_freq')) continue;
    // DeepSeek-V3 / R1 checkpoints append their multi-token-prediction layer(s) past num_hidden_layers;
    // llama.cpp's converter leaves them out (its loader refuses tensors it does not create).
    if (Number(/^model\.layers\.(\d+)\./.exec(name)?.[1] ?? -1) >= layers) continue;
    const expert = ggufExpertName(name);
    if (expert) {
      const s = stacks.get(expert.gguf) ?? { experts: new Map(), shape: t.shape };
      s.experts.set(expert.expert, name);
      stacks.set(expert.gguf, s);
      continue;
    }
    const kvb = layout.mla ? /^model\.layers\.(\d+)\.self_attn\.kv_b_proj\.weight$/.exec(name) : null;
    if (kvb) {
      out.push(...planKvB(name, Number(kvb[1]), t.shape, raw, type));
      continue;
    }
    const g = ggufName(name);
    if (!g) throw new UnsupportedModelError(`tensor ${name} has no llama.cpp name (architecture ${layout.arch})`);
    const dims = [...t.shape].reverse();
    let permuteHeads: number | undefined;
    if (layout.permutedQk && /\.self_attn\.[qk]_proj\.(weight|bias)$/.test(name)) permuteHeads = name.includes('.q_proj.') ? heads : kvHeads;
    out.push({ name: g, dims, dtype: pickDType(type, g, dims), sources: [name], permuteHeads });
  }
  for (const [g, s] of stacks) {
    const n = s.experts.size;
    const sources = Array.from({ length: n }, (_, e) => {
      const name = s.experts.get(e);
      if (!name) throw new InvalidModelError(`${g}: expert ${e} of ${n} is missing from the checkpoint`);
      return name;
    });
    const dims = [...[...s.shape].reverse(), n];
    out.push({ name: g, dims, dtype: pickDType(type, g, dims), sources });
  }
  const order = (n: string) => (n.startsWith('token_embd') ? -1 : n.startsWith('blk.') ? Number(n.split('.')[1]) : 1e9);
  return out.sort((a, b) => order(a.name) - order(b.name));
}

/**
 * deepseek2's kv_b_proj as llama.cpp's converter writes it since its MLA change: attn_k_b {nope, R, heads}
 * and attn_v_b {R, v, heads} (ggml dims), each in the dtype the file type gives its rows (k_b rows are
 * nope long: f16 instead of a block format when nope is not a multiple of 32, as the converter falls back).
 */
function planKvB(name: string, layer: number, shape: readonly number[], raw: RawConfig, type: ConvertType): Planned[] {
  const s = { heads: Number(raw.num_attention_heads), nope: Number(raw.qk_nope_head_dim), v: Number(raw.v_head_dim), rank: Number(raw.kv_lora_rank) };
  if (shape.length !== 2 || shape[0] !== s.heads * (s.nope + s.v) || shape[1] !== s.rank) {
    throw new InvalidModelError(
      `tensor ${name} has shape [${shape.join(', ')}], not [${s.heads * (s.nope + s.v)}, ${s.rank}] (heads * (qk_nope_head_dim + v_head_dim), kv_lora_rank)`,
    );
  }
  const half = (part: 'k' | 'v', dims: number[]): Planned => {
    const g = `blk.${layer}.attn_${part}_b.weight`;
    return { name: g, dims, dtype: pickDType(type, g, dims), sources: [name], kvB: { ...s, part } };
  };
  return [half('k', [s.nope, s.rank, s.heads]), half('v', [s.rank, s.v, s.heads])];
}

/** Rows of `bytes` (rows of equal length) reordered: row r of the result is row from[r] of the input. */
function permuteRowBytes(bytes: Uint8Array, rows: number, from: Int32Array): Uint8Array {
  const rowBytes = bytes.byteLength / rows;
  const out = new Uint8Array(bytes.byteLength);
  for (let r = 0; r < rows; r++) out.set(bytes.subarray(from[r]! * rowBytes, (from[r]! + 1) * rowBytes), r * rowBytes);
  return out;
}

/**
 * The bytes of one source tensor as `p` stores it: as read where it is stored in p's dtype already (rows
 * permuted as bytes for llama q/k), else converted through f32 and quantized.
 */
async function sourceBytes(src: WeightSource, name: string, p: Planned): Promise<Uint8Array> {
  const info = src.tensors.get(name)!;
  const rows = info.shape[0]!;
  const from = p.permuteHeads ? permuteRows(rows, p.permuteHeads) : undefined;
  const stored = await src.read(name);
  if (p.kvB) {
    const halves = splitKvB(toF32(stored, info.dtype, numel(info.shape)), p.kvB);
    const values = halves[p.kvB.part];
    return p.dtype === 'f32' ? new Uint8Array(values.buffer) : quantize(values, p.dtype as 'f16' | 'q8_0' | 'q4_0');
  }
  if (info.dtype === p.dtype) return from ? permuteRowBytes(stored, rows, from) : stored;
  let values = toF32(stored, info.dtype, numel(info.shape));
  if (from) {
    const asBytes = permuteRowBytes(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), rows, from);
    values = new Float32Array(asBytes.buffer);
  }
  return p.dtype === 'f32' ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : quantize(values, p.dtype as 'f16' | 'q8_0' | 'q4_0');
}

/** The bytes of one planned tensor: its sources (one, or one per expert) one after another. */
async function tensorBytes(src: WeightSource, p: Planned): Promise<Uint8Array> {
  if (p.sources.length === 1) return sourceBytes(src, p.sources[0]!, p);
  const parts: Uint8Array[] = [];
  for (const name of p.sources) parts.push(await sourceBytes(src, name, p));
  const all = new Uint8Array(parts.reduce((a, v) => a + v.byteLength, 0));
  let at = 0;
  for (const v of parts) all.set(v, (at += v.byteLength) - v.byteLength);
  return all;
}

async function readJsonIf(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw new InvalidModelError(`${path} is not valid JSON`, { cause });
  }
}

/**
 * Writes one GGUF file llama.cpp loads from a config, weights under Hugging Face names and a byte-level
 * BPE tokenizer: llama.cpp tensor names (q/k rows permuted for `llama`), `{arch}.*` hyperparameters, the
 * tokenizer as `gpt2` and the chat template. Tensors are converted and written one at a time; a tensor
 * stored in the file's dtype already is copied as it is.
 */
export async function writeModelGGUF(
  input: GGUFModelInput,
  out: string,
  type: ConvertType,
  onTensor?: (name: string, done: number, total: number) => void,
): Promise<{ tensors: number; bytes: number }> {
  if (!CONVERT_TYPES.includes(type)) throw new InvalidArgumentError(`--type ${type}: expected one of ${CONVERT_TYPES.join(', ')}`);
  const { raw, weights } = input;
  const md = ggufHparams(raw);
  const arch = String(md.get('general.architecture')!.value);
  const head = new Map<string, GGUFTypedValue>([
    ['general.architecture', meta.str(arch)],
    ['general.type', meta.str('model')],
    ['general.name', meta.str(input.name)],
    ['general.file_type', meta.u32(FILE_TYPE[type]!)],
    ['general.quantization_version', meta.u32(2)],
  ]);
  for (const [k, v] of md) head.set(k, v);
  for (const [k, v] of ggufTokenizerMetadata(input.tokenizerJson, input.tokenizerConfig, raw as Record<string, unknown>, Number(raw.vocab_size)))
    head.set(k, v);
  const planned = plan(weights, raw, type);
  const layout = layoutGGUF(head, planned);
  const fh = await open(out, 'w');
  try {
    await fh.write(layout.header, 0, layout.header.byteLength, 0);
    for (let i = 0; i < planned.length; i++) {
      const bytes = await tensorBytes(weights, planned[i]!);
      await fh.write(bytes, 0, bytes.byteLength, layout.offsets[i]);
      onTensor?.(planned[i]!.name, i + 1, planned.length);
    }
    await fh.truncate(layout.size);
  } finally {
    await fh.close();
  }
  return { tensors: planned.length, bytes: layout.size };
}

/** Converts a Hugging Face folder (safetensors) into one GGUF file llama.cpp loads (writeModelGGUF). */
export async function convertToGGUF(opts: ConvertOptions): Promise<{ tensors: number; bytes: number }> {
  if (!CONVERT_TYPES.includes(opts.type)) throw new InvalidArgumentError(`--type ${opts.type}: expected one of ${CONVERT_TYPES.join(', ')}`);
  const files = folderFiles(opts.model);
  const raw = JSON.parse(await files.text('config.json')) as RawConfig;
  const tokenizerJson = await readJsonIf(`${files.location}/tokenizer.json`);
  // llama.cpp's vocabulary-less mode ('none') aborts in tokenizer calls that llama.cpp front ends make.
  if (!tokenizerJson) throw new InvalidModelError(`${files.location}: no tokenizer.json; llama.cpp needs the model's vocabulary in the GGUF file`);
  const tokenizerConfig = (await readJsonIf(`${files.location}/tokenizer_config.json`)) ?? {};
  if (typeof tokenizerConfig.chat_template !== 'string' && (await files.has('chat_template.jinja')))
    tokenizerConfig.chat_template = await files.text('chat_template.jinja');
  try {
    const weights = await openSafetensors(files);
    return await writeModelGGUF({ raw, weights, tokenizerJson, tokenizerConfig, name: basename(files.location) }, opts.out, opts.type, opts.onTensor);
  } finally {
    await files.close?.();
  }
}
