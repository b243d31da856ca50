import { InvalidModelError } from '../errors.js';
import { byteSizeOf, numel } from '../gpu/tensor.js';
import type { ByteSource } from './files.js';
import { configFromGGUF } from './ggufConfig.js';
import type { GGUFLayout } from './ggufLayout.js';
import { hfNames, joinKvB, unpermuteRows, type KvBSplit } from './ggufNames.js';
import { readGGUFTensor, type GGUFFile, type GGUFTensorInfo } from './ggufReader.js';
import { tokenizerFromGGUF, type GGUFTokenizer } from './ggufTokenizer.js';
import { toF32 } from './loadTensors.js';
import { checkRange, type RawConfig, type TensorInfo, type WeightSource } from './source.js';

/**
 * Reads smaller than `blockBytes` may come from blocks of that many bytes of their GGUF tensor (up to its end),
 * a stacked tensor's experts served from one read. Off by default (0): on the H200 (bench/loadProfile.ts,
 * bench/README.md) the blocks cost more CPU (garbage collection of the large buffers their slices hold) than
 * the fewer reads saved. Benchmarks compare.
 */
export const ggufReadBlocks = { blockBytes: 0, blocks: 4 };

interface Block {
  readonly start: number;
  readonly end: number;
  readonly data: Promise<Uint8Array>;
}

interface Entry extends TensorInfo {
  readonly gguf: GGUFTensorInfo;
  /** Byte range inside the GGUF tensor (one expert of a stacked tensor). */
  readonly begin: number;
  /** Reverse convert_hf_to_gguf's q/k row permutation with this many heads. */
  readonly unpermuteHeads?: number;
  /** deepseek2 kv_b_proj rebuilt (f32) from llama.cpp's split attn_k_b (`gguf`) and attn_v_b (`vB`). */
  readonly kvB?: KvBSplit & { readonly vB: GGUFTensorInfo };
}

/**
 * The tensors of a GGUF file under Hugging Face names and PyTorch-order shapes: the same model code loads
 * them as safetensors. Block formats are returned as stored; stacked experts appear as one tensor per
 * expert; permuted q/k rows (`llama` files) are put back in Hugging Face order. What differs by
 * architecture comes from `layout`, the family's (src/models/gguf.ts opens files).
 */
export class GGUFSource implements WeightSource {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** The HF-style config.json object built from the metadata. */
  readonly config: RawConfig;
  /** The last blocks read (ggufReadBlocks), most recent last. */
  private readonly blocks: Block[] = [];

  constructor(
    private readonly file: ByteSource,
    readonly gguf: GGUFFile,
    readonly location: string,
    modelType: string,
    layout: GGUFLayout,
  ) {
    this.config = configFromGGUF(gguf.metadata, gguf.tensors.has('output.weight'), modelType, layout, location);
    const experts = Number(gguf.metadata.get(`${layout.arch}.expert_count`) ?? 0);
    const heads = Number(this.config.num_attention_heads);
    const kvHeads = Number(this.config.num_key_value_heads);
    const entries = new Map<string, Entry>();
    for (const t of gguf.tensors.values()) {
      if (layout.mla && /^blk\.\d+\.attn_[kv]_b\.weight$/.test(t.name)) {
        const e = kvBEntry(gguf, t, location);
        if (e) entries.set(e.name, e);
        continue;
      }
      const names = hfNames(t.name, layout, experts);
      if (names.length === 0) continue; // rope_freqs and other llama.cpp-only tensors
      const shape = [...t.dims].reverse();
      const dtype = t.dtype ?? 'u32';
      if (names.length > 1) {
        const per = shape.slice(1);
        const bytes = t.dtype ? byteSizeOf(t.dtype, numel(per)) : 0;
        names.forEach((name, e) => entries.set(name, { name, dtype, shape: per, byteLength: bytes, gguf: t, begin: e * bytes }));
        continue;
      }
      const name = names[0]!;
      let unpermuteHeads: number | undefined;
      if (layout.permutedQk && /\.self_attn\.[qk]_proj\.(weight|bias)$/.test(name)) {
        unpermuteHeads = name.includes('.q_proj.') ? heads : kvHeads;
      }
      entries.set(name, { name, dtype, shape, byteLength: t.byteLength, gguf: t, begin: 0, unpermuteHeads });
    }
    this.tensors = entries;
  }

  async read(name: string): Promise<Uint8Array> {
    return this.readRange(name, 0, this.entry(name).byteLength);
  }

  /**
   * Part of a tensor's bytes. For q/k rows of `llama` files the rows covering the range are gathered
   * from their GGUF places (one read of the span of source rows, at most a head beyond the range).
   */
  async readRange(name: string, byteOffset: number, byteLength: number): Promise<Uint8Array> {
    const e = this.entry(name);
    checkRange(e, byteOffset, byteLength, this.location);
    if (e.kvB) return (await this.kvB(e)).subarray(byteOffset, byteOffset + byteLength);
    if (!e.unpermuteHeads) return this.bytes(e, byteOffset, byteLength);
    const rows = e.shape[0]!;
    const rowBytes = e.byteLength / rows;
    const r0 = Math.floor(byteOffset / rowBytes);
    const r1 = Math.max(r0, Math.ceil((byteOffset + byteLength) / rowBytes));
    const from = unpermuteRows(rows, e.unpermuteHeads);
    let lo = rows;
    let hi = -1;
    for (let r = r0; r < r1; r++) {
      lo = Math.min(lo, from[r]!);
      hi = Math.max(hi, from[r]!);
    }
    if (hi < lo) return new Uint8Array(0);
    const span = await this.bytes(e, lo * rowBytes, (hi + 1 - lo) * rowBytes);
    const out = new Uint8Array((r1 - r0) * rowBytes);
    for (let r = r0; r < r1; r++) out.set(span.subarray((from[r]! - lo) * rowBytes, (from[r]! - lo + 1) * rowBytes), (r - r0) * rowBytes);
    const skip = byteOffset - r0 * rowBytes;
    return out.subarray(skip, skip + byteLength);
  }

  async readRangeInto(name: string, byteOffset: number, target: Uint8Array): Promise<void> {
    const e = this.entry(name);
    const direct = !e.kvB && !e.unpermuteHeads && !!e.gguf.dtype && !!this.file.readInto && !(target.byteLength < ggufReadBlocks.blockBytes);
    if (!direct) {
      target.set(await this.readRange(name, byteOffset, target.byteLength));
      return;
    }
    checkRange(e, byteOffset, target.byteLength, this.location);
    await this.file.readInto!(e.gguf.offset + e.begin + byteOffset, target);
  }

  private entry(name: string): Entry {
    const e = (this.tensors as Map<string, Entry>).get(name);
    if (!e) throw new InvalidModelError(`${this.location}: tensor ${name} is missing from the GGUF file`);
    return e;
  }

  /** kv_b_proj as f32 bytes: attn_k_b and attn_v_b dequantized, k_b transposed back, interleaved per head. */
  private async kvB(e: Entry): Promise<Uint8Array> {
    const s = e.kvB!;
    const k = await readGGUFTensor(this.file, e.gguf, this.location);
    const v = await readGGUFTensor(this.file, s.vB, this.location);
    const kvb = joinKvB(toF32(k, e.gguf.dtype!, numel(e.gguf.dims)), toF32(v, s.vB.dtype!, numel(s.vB.dims)), s);
    return new Uint8Array(kvb.buffer);
  }

  /** Stored bytes [offset, offset + length) of an entry (inside its expert's slice). */
  private async bytes(e: Entry, offset: number, length: number): Promise<Uint8Array> {
    const t = e.gguf;
    const at = t.offset + e.begin + offset;
    const { blockBytes, blocks } = ggufReadBlocks;
    if (length >= blockBytes || blocks < 1 || !t.dtype) return readGGUFTensor(this.file, { ...t, offset: at, byteLength: length }, this.location);
    let block = this.blocks.find((b) => b.start <= at && at + length <= b.end);
    if (block) {
      this.blocks.splice(this.blocks.indexOf(block), 1);
    } else {
      const end = Math.max(at + length, Math.min(at + blockBytes, t.offset + t.byteLength, this.file.size));
      const data = readGGUFTensor(this.file, { ...t, offset: at, byteLength: end - at }, this.location);
      block = { start: at, end, data };
      data.catch(() => this.blocks.splice(this.blocks.indexOf(block!) >>> 0, 1)); // a failed read is not kept
      if (this.blocks.length >= blocks) this.blocks.shift();
    }
    this.blocks.push(block);
    const data = await block.data;
    return data.subarray(at - block.start, at - block.start + length);
  }

  /** tokenizer.json / tokenizer_config.json objects rebuilt from the tokenizer.* metadata. */
  tokenizer(): GGUFTokenizer {
    return tokenizerFromGGUF(this.gguf.metadata, this.location);
  }
}

/**
 * The entry of `self_attn.kv_b_proj.weight` for a layer of a current llama.cpp deepseek2 file, made at its
 * attn_k_b (undefined at attn_v_b, which the same entry reads). Throws when one half is missing or the
 * two do not fit together.
 */
function kvBEntry(gguf: GGUFFile, t: GGUFTensorInfo, where: string): Entry | undefined {
  const layer = t.name.split('.')[1]!;
  const kB = gguf.tensors.get(`blk.${layer}.attn_k_b.weight`);
  const vB = gguf.tensors.get(`blk.${layer}.attn_v_b.weight`);
  if (!kB || !vB)
    throw new InvalidModelError(
      `${where}: blk.${layer} has ${kB ? 'attn_k_b' : 'attn_v_b'} without ${kB ? 'attn_v_b' : 'attn_k_b'} (llama.cpp's MLA layout needs both)`,
    );
  if (t !== kB) return undefined;
  const [nope, rank, heads] = kB.dims as number[];
  const [rankV, v, headsV] = vB.dims as number[];
  if (kB.dims.length !== 3 || vB.dims.length !== 3 || rank !== rankV || heads !== headsV) {
    throw new InvalidModelError(
      `${where}: blk.${layer}.attn_k_b {${kB.dims.join(', ')}} and attn_v_b {${vB.dims.join(', ')}} are not {nope, kv_lora_rank, heads} and {kv_lora_rank, v, heads}`,
    );
  }
  const name = `model.layers.${layer}.self_attn.kv_b_proj.weight`;
  const shape = [heads! * (nope! + v!), rank!];
  // Read as f32 (dequantized here); a half in a ggml type weblm cannot load fails at read, as other tensors do.
  return { name, dtype: 'f32', shape, byteLength: 4 * numel(shape), gguf: kB, begin: 0, kvB: { heads: heads!, nope: nope!, v: v!, rank: rank!, vB } };
}
