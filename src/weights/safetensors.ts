import { InvalidModelError, UnsupportedModelError } from '../errors.js';
import { byteSizeOf, numel, type DType } from '../gpu/tensor.js';
import type { ByteSource, ModelFiles } from './files.js';
import { checkRange, type TensorInfo, type WeightSource } from './source.js';

/** Safetensors dtype names → ours. Others (F64, I64, F8, BOOL ...) are listed but cannot be read. */
const DTYPES: Record<string, DType> = { F32: 'f32', F16: 'f16', BF16: 'bf16', I32: 'i32', U32: 'u32' };

interface Entry extends TensorInfo {
  readonly file: ByteSource;
  readonly fileName: string;
  /** Absolute byte offset in the file. */
  readonly begin: number;
}

const MAX_HEADER = 100 * 1024 * 1024;

/**
 * Parses the header of one .safetensors file: 8 bytes (u64 LE header length), a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}, then the data. Checks every tensor's
 * range against its dtype and shape and against the file size.
 */
export async function readSafetensorsHeader(file: ByteSource, fileName: string): Promise<Map<string, Entry>> {
  if (file.size < 8) throw new InvalidModelError(`${fileName}: truncated safetensors file (${file.size} bytes)`);
  const head = await file.read(0, 8);
  const len = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  if (len > MAX_HEADER || 8 + len > file.size) {
    throw new InvalidModelError(`${fileName}: header of ${len} bytes does not fit in the file (${file.size} bytes): truncated or not safetensors`);
  }
  let json: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    json = JSON.parse(new TextDecoder().decode(await file.read(8, len)));
  } catch (cause) {
    throw new InvalidModelError(`${fileName}: the safetensors header is not valid JSON`, { cause });
  }
  const dataStart = 8 + len;
  const out = new Map<string, Entry>();
  for (const [name, t] of Object.entries(json)) {
    if (name === '__metadata__') continue;
    const [b, e] = t.data_offsets ?? [];
    if (!Array.isArray(t.shape) || typeof b !== 'number' || typeof e !== 'number' || e < b) {
      throw new InvalidModelError(`${fileName}: tensor ${name} has a malformed header entry`);
    }
    if (dataStart + e > file.size) {
      throw new InvalidModelError(`${fileName}: tensor ${name} ends at byte ${dataStart + e} but the file has ${file.size} bytes (truncated file)`);
    }
    const dtype = DTYPES[t.dtype];
    const entry = { name, shape: t.shape, byteLength: e - b, file, fileName, begin: dataStart + b };
    if (!dtype) {
      out.set(name, { ...entry, dtype: 'u32', unsupported: t.dtype } as Entry);
      continue;
    }
    if (byteSizeOf(dtype, numel(t.shape)) !== e - b) {
      throw new InvalidModelError(`${fileName}: tensor ${name} (${t.dtype} [${t.shape}]) has ${e - b} bytes, expected ${byteSizeOf(dtype, numel(t.shape))}`);
    }
    out.set(name, { ...entry, dtype });
  }
  return out;
}

/** A WeightSource over safetensors entries of one or more files. */
export class SafetensorsSource implements WeightSource {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  constructor(
    private readonly entries: Map<string, Entry>,
    readonly location: string,
  ) {
    this.tensors = entries;
  }

  async read(name: string): Promise<Uint8Array> {
    return this.readRange(name, 0, this.entry(name).byteLength);
  }

  async readRange(name: string, byteOffset: number, byteLength: number): Promise<Uint8Array> {
    const e = this.entry(name);
    const bad = (e as Entry & { unsupported?: string }).unsupported;
    if (bad) throw new UnsupportedModelError(`${e.fileName}: tensor ${name} has dtype ${bad}, which weblm cannot load`);
    checkRange(e, byteOffset, byteLength, e.fileName);
    return e.file.read(e.begin + byteOffset, byteLength);
  }

  async readRangeInto(name: string, byteOffset: number, target: Uint8Array): Promise<void> {
    const e = this.entry(name);
    if (!e.file.readInto || (e as Entry & { unsupported?: string }).unsupported) {
      target.set(await this.readRange(name, byteOffset, target.byteLength));
      return;
    }
    checkRange(e, byteOffset, target.byteLength, e.fileName);
    await e.file.readInto(e.begin + byteOffset, target);
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new InvalidModelError(`${this.location}: tensor ${name} is missing from the checkpoint`);
    return e;
  }
}

/** The shard files named by a model.safetensors.index.json ({weight_map: {name: file}}), each once. */
export function safetensorsShards(indexJson: string, where: string): string[] {
  let index: { weight_map?: unknown };
  try {
    index = JSON.parse(indexJson);
  } catch (cause) {
    throw new InvalidModelError(`${where} is not valid JSON`, { cause });
  }
  const map = index?.weight_map;
  if (!map || typeof map !== 'object' || Object.values(map).some((f) => typeof f !== 'string')) {
    throw new InvalidModelError(`${where} has no weight_map of tensor names to files`);
  }
  return [...new Set(Object.values(map as Record<string, string>))];
}

/**
 * The weights of a Hugging Face repo layout: model.safetensors, or the shards listed by
 * model.safetensors.index.json.
 */
export async function openSafetensors(files: ModelFiles): Promise<SafetensorsSource> {
  const entries = new Map<string, Entry>();
  let shards: string[];
  if (await files.has('model.safetensors.index.json')) {
    shards = safetensorsShards(await files.text('model.safetensors.index.json'), `${files.location}/model.safetensors.index.json`);
  } else {
    shards = ['model.safetensors'];
  }
  for (const shard of shards) {
    const file = await files.open(shard);
    for (const [k, v] of await readSafetensorsHeader(file, `${files.location}/${shard}`)) entries.set(k, v);
  }
  return new SafetensorsSource(entries, files.location);
}

/** A whole safetensors file read into host arrays (small files: test fixtures). */
export async function readSafetensorsFile(
  file: ByteSource,
  fileName: string,
): Promise<Map<string, { dtype: DType; shape: readonly number[]; data: Uint8Array }>> {
  const out = new Map<string, { dtype: DType; shape: readonly number[]; data: Uint8Array }>();
  const src = new SafetensorsSource(await readSafetensorsHeader(file, fileName), fileName);
  for (const [name, t] of src.tensors) out.set(name, { dtype: t.dtype, shape: t.shape, data: await src.read(name) });
  return out;
}
