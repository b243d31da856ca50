import { InvalidModelError, UnsupportedModelError } from '../errors.js';
import { byteSizeOf, dtypeLayout, numel, type DType } from '../gpu/tensor.js';
import type { ByteSource } from './files.js';
import { GGML_TYPE_NAMES, GGML_TYPE_TO_DTYPE, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUFValueType, type GGUFValue } from './ggufFormat.js';

/** One tensor of a GGUF file, as stored: llama.cpp name, dims in ggml order (dims[0] is the row length). */
export interface GGUFTensorInfo {
  readonly name: string;
  /** ggml order: dims[0] varies fastest (columns of a matrix). */
  readonly dims: readonly number[];
  readonly ggmlType: number;
  /** Undefined for a ggml type weblm cannot load (reading it throws UnsupportedModelError). */
  readonly dtype: DType | undefined;
  /** Absolute offset in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface GGUFFile {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GGUFValue>;
  readonly tensors: ReadonlyMap<string, GGUFTensorInfo>;
  readonly alignment: number;
  /** Absolute offset of the tensor data section. */
  readonly dataOffset: number;
}

const CHUNK = 1 << 20;
const MAX_STRING = 64 << 20;
const MAX_COUNT = 1 << 26;

/** Reads little-endian values from a ByteSource, fetching it in 1 MB chunks as the cursor advances. */
class Cursor {
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private start = 0; // file offset of buf[0]
  pos = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(
    private readonly src: ByteSource,
    private readonly where: string,
  ) {}

  /** Makes [pos, pos + n) available in buf. */
  async need(n: number): Promise<void> {
    if (this.pos + n <= this.start + this.buf.byteLength) return;
    if (this.pos + n > this.src.size) {
      throw new InvalidModelError(`${this.where}: truncated GGUF file (the header needs byte ${this.pos + n}, the file has ${this.src.size})`);
    }
    const keep = this.buf.subarray(this.pos - this.start);
    const len = Math.min(Math.max(n - keep.byteLength, CHUNK), this.src.size - this.pos - keep.byteLength);
    const more = await this.src.read(this.pos + keep.byteLength, len);
    const next = new Uint8Array(keep.byteLength + more.byteLength);
    next.set(keep);
    next.set(more, keep.byteLength);
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.start = this.pos;
  }

  private at(n: number): number {
    const o = this.pos - this.start;
    this.pos += n;
    return o;
  }
  async u8() {
    await this.need(1);
    return this.view.getUint8(this.at(1));
  }
  async i8() {
    await this.need(1);
    return this.view.getInt8(this.at(1));
  }
  async u16() {
    await this.need(2);
    return this.view.getUint16(this.at(2), true);
  }
  async i16() {
    await this.need(2);
    return this.view.getInt16(this.at(2), true);
  }
  async u32() {
    await this.need(4);
    return this.view.getUint32(this.at(4), true);
  }
  async i32() {
    await this.need(4);
    return this.view.getInt32(this.at(4), true);
  }
  /** An f32 as the shortest decimal that rounds to it (1e-6, not 9.99999997e-7). */
  async f32() {
    await this.need(4);
    const v = this.view.getFloat32(this.at(4), true);
    for (let p = 1; p < 9; p++) {
      const d = Number(v.toPrecision(p));
      if (Math.fround(d) === v) return d;
    }
    return v;
  }
  async f64() {
    await this.need(8);
    return this.view.getFloat64(this.at(8), true);
  }
  async u64(): Promise<number | bigint> {
    await this.need(8);
    const v = this.view.getBigUint64(this.at(8), true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  async i64(): Promise<number | bigint> {
    await this.need(8);
    const v = this.view.getBigInt64(this.at(8), true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  /** A u64 that must be a count or size below `max`. */
  async size(what: string, max: number): Promise<number> {
    const v = await this.u64();
    if (typeof v !== 'number' || v > max) throw new InvalidModelError(`${this.where}: ${what} ${v} is implausible (corrupt GGUF header)`);
    return v;
  }
  async string(): Promise<string> {
    const n = await this.size('string length', MAX_STRING);
    await this.need(n);
    const o = this.at(n);
    return this.decoder.decode(this.buf.subarray(o, o + n));
  }
}

async function readValue(c: Cursor, type: number, where: string): Promise<GGUFValue> {
  switch (type) {
    case GGUFValueType.UINT8:
      return c.u8();
    case GGUFValueType.INT8:
      return c.i8();
    case GGUFValueType.UINT16:
      return c.u16();
    case GGUFValueType.INT16:
      return c.i16();
    case GGUFValueType.UINT32:
      return c.u32();
    case GGUFValueType.INT32:
      return c.i32();
    case GGUFValueType.FLOAT32:
      return c.f32();
    case GGUFValueType.FLOAT64:
      return c.f64();
    case GGUFValueType.UINT64:
      return c.u64();
    case GGUFValueType.INT64:
      return c.i64();
    case GGUFValueType.BOOL:
      return (await c.u8()) !== 0;
    case GGUFValueType.STRING:
      return c.string();
    case GGUFValueType.ARRAY: {
      const itemType = await c.u32();
      const n = await c.size('array length', MAX_COUNT);
      const out: GGUFValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = await readValue(c, itemType, where);
      return out;
    }
    default:
      throw new InvalidModelError(`${where}: unknown GGUF metadata value type ${type} (corrupt header)`);
  }
}

/**
 * Reads the header of a GGUF v2/v3 file (metadata, tensor infos, alignment) from a ByteSource, in chunks:
 * the tensor data is not read. Checks every tensor's byte range against the file size.
 */
export async function readGGUF(src: ByteSource, where = 'model.gguf'): Promise<GGUFFile> {
  const c = new Cursor(src, where);
  if (src.size < 24) throw new InvalidModelError(`${where}: truncated GGUF file (${src.size} bytes)`);
  if ((await c.u32()) !== GGUF_MAGIC) throw new InvalidModelError(`${where}: not a GGUF file (bad magic)`);
  const version = await c.u32();
  if (version !== 2 && version !== 3) {
    throw new UnsupportedModelError(`${where}: GGUF version ${version} is not supported (weblm reads versions 2 and 3)`);
  }
  const nTensors = await c.size('tensor count', MAX_COUNT);
  const nKv = await c.size('metadata count', MAX_COUNT);
  const metadata = new Map<string, GGUFValue>();
  for (let i = 0; i < nKv; i++) {
    const key = await c.string();
    const type = await c.u32();
    metadata.set(key, await readValue(c, type, `${where}: ${key}`));
  }
  const alignment = metadata.has('general.alignment') ? Number(metadata.get('general.alignment')) : GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
    throw new InvalidModelError(`${where}: general.alignment ${alignment} is not a positive multiple of 8`);
  }
  const raw: { name: string; dims: number[]; ggmlType: number; rel: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = await c.string();
    const nDims = await c.u32();
    if (nDims > 4) throw new InvalidModelError(`${where}: tensor ${name} has ${nDims} dimensions (at most 4)`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(await c.size(`dimension of ${name}`, Number.MAX_SAFE_INTEGER));
    const ggmlType = await c.u32();
    const rel = await c.size(`offset of ${name}`, Number.MAX_SAFE_INTEGER);
    raw.push({ name, dims, ggmlType, rel });
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors = new Map<string, GGUFTensorInfo>();
  for (const t of raw) {
    const dtype = GGML_TYPE_TO_DTYPE[t.ggmlType];
    const typeName = GGML_TYPE_NAMES[t.ggmlType] ?? `type ${t.ggmlType}`;
    let byteLength = 0;
    if (dtype) {
      if (t.dims[0]! % dtypeLayout[dtype].blockElems !== 0) {
        throw new InvalidModelError(`${where}: tensor ${t.name} (${typeName}) has rows of ${t.dims[0]}, not whole blocks`);
      }
      byteLength = byteSizeOf(dtype, numel(t.dims));
    }
    if (t.rel % alignment !== 0) throw new InvalidModelError(`${where}: tensor ${t.name} is not aligned to ${alignment} bytes`);
    const offset = dataOffset + t.rel;
    if (dtype && offset + byteLength > src.size) {
      throw new InvalidModelError(`${where}: tensor ${t.name} ends at byte ${offset + byteLength} but the file has ${src.size} bytes (truncated GGUF)`);
    }
    tensors.set(t.name, { name: t.name, dims: t.dims, ggmlType: t.ggmlType, dtype, offset, byteLength });
  }
  return { version, metadata, tensors, alignment, dataOffset };
}

/** The stored bytes of one tensor. */
export async function readGGUFTensor(src: ByteSource, t: GGUFTensorInfo, where = 'model.gguf'): Promise<Uint8Array> {
  if (!t.dtype) {
    throw new UnsupportedModelError(
      `${where}: tensor ${t.name} has ggml type ${GGML_TYPE_NAMES[t.ggmlType] ?? t.ggmlType}, which weblm cannot load (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)`,
    );
  }
  return src.read(t.offset, t.byteLength);
}
