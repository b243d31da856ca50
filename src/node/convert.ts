import { open, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { InvalidArgumentError, InvalidModelError, UnsupportedModelError } from '../errors.js';
import { numel, type DType } from '../gpu/tensor.js';
import type { RawConfig } from '../models/config.js';
import { ggufHparams } from '../weights/ggufConfig.js';
import { FILE_TYPE, type GGUFTypedValue } from '../weights/ggufFormat.js';
import { ggufExpertName, ggufName, HF_TO_GGUF_ARCH, PERMUTED_QK_ARCHS, permuteRows } from '../weights/ggufNames.js';
import { ggufTokenizerMetadata } from '../weights/ggufTokenizer.js';
import { layoutGGUF, meta, type GGUFTensorSpec } from '../weights/ggufWriter.js';
import { toF32 } from '../weights/loadTensors.js';
import { quantize } from '../weights/quant/index.js';
import { openSafetensors, type SafetensorsSource } from '../weights/safetensors.js';
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

/** One GGUF tensor: its spec and where its HF values come from (several sources for stacked experts). */
interface Planned extends GGUFTensorSpec {
  readonly sources: readonly string[];
  /** Permute rows as convert_hf_to_gguf does for llama q/k (heads). */
  readonly permuteHeads?: number;
}

/** The stored dtype of a tensor of `dims` (ggml order) for the requested file type, as llama.cpp's converter picks. */
function pickDType(type: ConvertType, dims: readonly number[]): DType {
  if (dims.length < 2 || type === 'f32') return 'f32';
  if ((type === 'q8_0' || type === 'q4_0') && dims[0]! % 32 !== 0) return 'f16';
  return type;
}

function plan(src: SafetensorsSource, raw: RawConfig, type: ConvertType): Planned[] {
  const arch = HF_TO_GGUF_ARCH[String(raw.model_type)]!;
  const heads = Number(raw.num_attention_heads);
  const kvHeads = Number(raw.num_key_value_heads ?? heads);
  const out: Planned[] = [];
  const stacks = new Map<string, { experts: Map<number, string>; shape: readonly number[] }>();
  for (const [name, t] of src.tensors) {
    if (name.endsWith('rotary_emb.inv_freq')) continue;
    const expert = ggufExpertName(name);
    if (expert) {
      const s = stacks.get(expert.gguf) ?? { experts: new Map(), shape: t.shape };
      s.experts.set(expert.expert, name);
      stacks.set(expert.gguf, s);
      continue;
    }
    const g = ggufName(name);
    if (!g) throw new UnsupportedModelError(`tensor ${name} has no llama.cpp name (architecture ${arch})`);
    const dims = [...t.shape].reverse();
    let permuteHeads: number | undefined;
    if (PERMUTED_QK_ARCHS.has(arch) && /\.self_attn\.[qk]_proj\.(weight|bias)$/.test(name)) permuteHeads = name.includes('.q_proj.') ? heads : kvHeads;
    out.push({ name: g, dims, dtype: pickDType(type, dims), sources: [name], permuteHeads });
  }
  for (const [g, s] of stacks) {
    const n = s.experts.size;
    const sources = Array.from({ length: n }, (_, e) => {
      const name = s.experts.get(e);
      if (!name) throw new InvalidModelError(`${g}: expert ${e} of ${n} is missing from the checkpoint`);
      return name;
    });
    const dims = [...[...s.shape].reverse(), n];
    out.push({ name: g, dims, dtype: pickDType(type, dims), sources });
  }
  const order = (n: string) => (n.startsWith('token_embd') ? -1 : n.startsWith('blk.') ? Number(n.split('.')[1]) : 1e9);
  return out.sort((a, b) => order(a.name) - order(b.name));
}

/** The bytes of one planned tensor: HF values (permuted for llama q/k), stored as its dtype. */
async function tensorBytes(src: SafetensorsSource, p: Planned): Promise<Uint8Array> {
  const parts: Float32Array[] = [];
  for (const name of p.sources) {
    const info = src.tensors.get(name)!;
    let values = toF32(await src.read(name), info.dtype, numel(info.shape));
    if (p.permuteHeads) {
      const rows = info.shape[0]!;
      const cols = values.length / rows;
      const hfRow = permuteRows(rows, p.permuteHeads);
      const permuted = new Float32Array(values.length);
      for (let r = 0; r < rows; r++) permuted.set(values.subarray(hfRow[r]! * cols, (hfRow[r]! + 1) * cols), r * cols);
      values = permuted;
    }
    parts.push(values);
  }
  let all = parts[0]!;
  if (parts.length > 1) {
    all = new Float32Array(parts.reduce((a, v) => a + v.length, 0));
    let at = 0;
    for (const v of parts) all.set(v, (at += v.length) - v.length);
  }
  return p.dtype === 'f32' ? new Uint8Array(all.buffer, all.byteOffset, all.byteLength) : quantize(all, p.dtype as 'f16' | 'q8_0' | 'q4_0');
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
 * Converts a Hugging Face folder (safetensors) into one GGUF file llama.cpp loads: llama.cpp tensor names
 * (q/k rows permuted for `llama`), `{arch}.*` hyperparameters, the tokenizer (byte-level BPE as `gpt2`) and
 * the chat template. Tensors are converted and written one at a time.
 */
export async function convertToGGUF(opts: ConvertOptions): Promise<{ tensors: number; bytes: number }> {
  if (!CONVERT_TYPES.includes(opts.type)) throw new InvalidArgumentError(`--type ${opts.type}: expected one of ${CONVERT_TYPES.join(', ')}`);
  const files = folderFiles(opts.model);
  const raw = JSON.parse(await files.text('config.json')) as RawConfig;
  const md = ggufHparams(raw);
  const arch = String(md.get('general.architecture')!.value);
  const head = new Map<string, GGUFTypedValue>([
    ['general.architecture', meta.str(arch)],
    ['general.type', meta.str('model')],
    ['general.name', meta.str(basename(files.location))],
    ['general.file_type', meta.u32(FILE_TYPE[opts.type]!)],
    ['general.quantization_version', meta.u32(2)],
  ]);
  for (const [k, v] of md) head.set(k, v);
  const tokJson = await readJsonIf(`${files.location}/tokenizer.json`);
  if (tokJson) {
    const tokConfig = (await readJsonIf(`${files.location}/tokenizer_config.json`)) ?? {};
    if (typeof tokConfig.chat_template !== 'string' && (await files.has('chat_template.jinja'))) tokConfig.chat_template = await files.text('chat_template.jinja');
    for (const [k, v] of ggufTokenizerMetadata(tokJson, tokConfig, raw as Record<string, unknown>, Number(raw.vocab_size))) head.set(k, v);
  } else {
    // llama.cpp's vocabulary-less mode ('none') aborts in tokenizer calls that llama.cpp front ends make.
    throw new InvalidModelError(`${files.location}: no tokenizer.json; llama.cpp needs the model's vocabulary in the GGUF file`);
  }
  const src = await openSafetensors(files);
  const planned = plan(src, raw, opts.type);
  const layout = layoutGGUF(head, planned);
  const fh = await open(opts.out, 'w');
  try {
    await fh.write(layout.header, 0, layout.header.byteLength, 0);
    for (let i = 0; i < planned.length; i++) {
      const bytes = await tensorBytes(src, planned[i]!);
      await fh.write(bytes, 0, bytes.byteLength, layout.offsets[i]);
      opts.onTensor?.(planned[i]!.name, i + 1, planned.length);
    }
    await fh.truncate(layout.size);
  } finally {
    await fh.close();
  }
  return { tensors: planned.length, bytes: layout.size };
}
