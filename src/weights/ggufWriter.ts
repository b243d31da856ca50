import { InvalidArgumentError } from '../errors.js';
import { byteSizeOf, numel, type DType } from '../gpu/tensor.js';
import { DTYPE_TO_GGML_TYPE, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GGUFValueType, type GGUFTypedValue, type GGUFValue } from './ggufFormat.js';

/** A tensor to write: llama.cpp name, dims in ggml order (dims[0] = row length), stored dtype. */
export interface GGUFTensorSpec {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dtype: DType;
}

/** A growable little-endian byte buffer. */
class Bytes {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private readonly enc = new TextEncoder();
  private room(n: number) {
    if (this.length + n <= this.buf.byteLength) return;
    const next = new Uint8Array(Math.max(this.buf.byteLength * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number) {
    this.room(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number) {
    this.room(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number) {
    this.room(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number) {
    this.room(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number) {
    this.room(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number) {
    this.room(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number) {
    this.room(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number) {
    this.room(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: number | bigint) {
    this.room(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  i64(v: number | bigint) {
    this.room(8);
    this.view.setBigInt64(this.length, BigInt(v), true);
    this.length += 8;
  }
  string(s: string) {
    const b = this.enc.encode(s);
    this.u64(b.byteLength);
    this.room(b.byteLength);
    this.buf.set(b, this.length);
    this.length += b.byteLength;
  }
  pad(alignment: number) {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes() {
    return this.buf.slice(0, this.length);
  }
}

function writeValue(b: Bytes, type: GGUFValueType, v: GGUFValue, key: string, itemType?: GGUFValueType): void {
  const num = () => {
    if (typeof v !== 'number') throw new InvalidArgumentError(`GGUF ${key}: expected a number, got ${typeof v}`);
    return v;
  };
  switch (type) {
    case GGUFValueType.UINT8:
      return b.u8(num());
    case GGUFValueType.INT8:
      return b.i8(num());
    case GGUFValueType.UINT16:
      return b.u16(num());
    case GGUFValueType.INT16:
      return b.i16(num());
    case GGUFValueType.UINT32:
      return b.u32(num());
    case GGUFValueType.INT32:
      return b.i32(num());
    case GGUFValueType.FLOAT32:
      return b.f32(num());
    case GGUFValueType.FLOAT64:
      return b.f64(num());
    case GGUFValueType.UINT64:
      return b.u64(v as number | bigint);
    case GGUFValueType.INT64:
      return b.i64(v as number | bigint);
    case GGUFValueType.BOOL:
      return b.u8(v ? 1 : 0);
    case GGUFValueType.STRING:
      return b.string(String(v));
    case GGUFValueType.ARRAY: {
      if (!Array.isArray(v) || itemType === undefined) throw new InvalidArgumentError(`GGUF ${key}: an ARRAY needs an array value and an item type`);
      b.u32(itemType);
      b.u64(v.length);
      for (const x of v) writeValue(b, itemType, x, key);
      return;
    }
  }
}

/** Typed metadata helpers: `meta.u32(5)`, `meta.strings([...])`. */
export const meta = {
  u32: (value: number): GGUFTypedValue => ({ type: GGUFValueType.UINT32, value }),
  i32: (value: number): GGUFTypedValue => ({ type: GGUFValueType.INT32, value }),
  f32: (value: number): GGUFTypedValue => ({ type: GGUFValueType.FLOAT32, value }),
  bool: (value: boolean): GGUFTypedValue => ({ type: GGUFValueType.BOOL, value }),
  str: (value: string): GGUFTypedValue => ({ type: GGUFValueType.STRING, value }),
  strings: (value: string[]): GGUFTypedValue => ({ type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value }),
  f32s: (value: number[]): GGUFTypedValue => ({ type: GGUFValueType.ARRAY, itemType: GGUFValueType.FLOAT32, value }),
  i32s: (value: number[]): GGUFTypedValue => ({ type: GGUFValueType.ARRAY, itemType: GGUFValueType.INT32, value }),
};

export interface GGUFLayout {
  /** Magic, version, metadata and tensor infos, padded to the alignment: the file starts with these bytes. */
  header: Uint8Array;
  /** Offset of each tensor from the start of the file, in the order given. */
  offsets: number[];
  /** Total file size. */
  size: number;
  alignment: number;
}

/**
 * Lays out a GGUF v3 file: the header bytes and where each tensor's data goes. The caller writes the
 * header, then each tensor's bytes at its offset (zero padding between them), so a converter streams
 * one tensor at a time. `general.alignment` in `metadata` overrides the default 32.
 */
export function layoutGGUF(metadata: ReadonlyMap<string, GGUFTypedValue>, tensors: readonly GGUFTensorSpec[]): GGUFLayout {
  const alignment = Number(metadata.get('general.alignment')?.value ?? GGUF_DEFAULT_ALIGNMENT);
  const b = new Bytes();
  b.u32(GGUF_MAGIC);
  b.u32(GGUF_VERSION);
  b.u64(tensors.length);
  b.u64(metadata.size);
  for (const [key, v] of metadata) {
    b.string(key);
    b.u32(v.type);
    writeValue(b, v.type, v.value, key, v.itemType);
  }
  const rel: number[] = [];
  let at = 0;
  for (const t of tensors) {
    const ggmlType = DTYPE_TO_GGML_TYPE[t.dtype];
    if (ggmlType === undefined) throw new InvalidArgumentError(`GGUF tensor ${t.name}: dtype ${t.dtype} has no ggml type`);
    b.string(t.name);
    b.u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(ggmlType);
    b.u64(at);
    rel.push(at);
    at += byteSizeOf(t.dtype, numel(t.dims));
    at = Math.ceil(at / alignment) * alignment;
  }
  b.pad(alignment);
  const header = b.bytes();
  return { header, offsets: rel.map((r) => header.byteLength + r), size: header.byteLength + at, alignment };
}

/** A whole GGUF file in memory (small files: tests). */
export function writeGGUF(metadata: ReadonlyMap<string, GGUFTypedValue>, tensors: readonly (GGUFTensorSpec & { data: Uint8Array })[]): Uint8Array {
  const l = layoutGGUF(metadata, tensors);
  const out = new Uint8Array(l.size);
  out.set(l.header);
  tensors.forEach((t, i) => out.set(t.data, l.offsets[i]));
  return out;
}
