import { InvalidModelError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { uploadStaging, type UploadStaging } from '../gpu/uploadStaging.js';
import { byteSizeOf, dtypeLayout, isQuantized, numel, type DType, type Tensor } from '../gpu/tensor.js';
import type { LoadDType } from './source.js';
import { dequantize, quantize } from './quant/index.js';
import type { WeightSource } from './source.js';

/**
 * Source bytes read at a time (whole rows, at least one), and reads issued ahead of the chunk being converted
 * and written: at most `readAhead` of them (0: one read at a time) and `readAheadBytes` in all beyond the one
 * awaited. Peak host memory while loading is a few chunks, not a tensor. Tests lower them; benchmarks compare
 * (bench/loadProfile.ts `ahead8`: eight small reads, experts of a stacked tensor, in parallel).
 */
export const loadChunking = { maxBytes: 16 * 1024 * 1024, readAhead: 2, readAheadBytes: 32 * 1024 * 1024 };

/** f32 values of stored bytes: f32, f16, bf16, or a block format. */
export function toF32(bytes: Uint8Array, dtype: DType, count: number): Float32Array {
  // A view where the bytes are aligned for it (they are read-only here), else an aligned copy.
  if (dtype === 'f32') {
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, count);
    return new Float32Array(bytes.slice(0, count * 4).buffer, 0, count);
  }
  if (dtype === 'f16' || dtype === 'bf16') {
    const u16 =
      bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, count) : new Uint16Array(bytes.slice(0, count * 2).buffer, 0, count);
    const out = new Float32Array(count);
    if (dtype === 'bf16') {
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u32[i] = u16[i]! << 16;
    } else {
      for (let i = 0; i < count; i++) out[i] = f16ToF32(u16[i]!);
    }
    return out;
  }
  if (isQuantized(dtype)) return dequantize(bytes, dtype, count);
  throw new InvalidModelError(`cannot convert ${dtype} values to f32`);
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Bits per weight, to pick the finer of two stored formats. */
const bitsPerWeight = (d: DType) => (8 * dtypeLayout[d].blockBytes) / dtypeLayout[d].blockElems;

/**
 * The GPU dtype of a matrix stored as `stored` with rows of `rowLength`, for the requested load dtype:
 * 'auto' keeps what is stored; q8_0 / q4_0 need rows of whole 32-value blocks (else stay as stored).
 */
export function targetDType(stored: DType, requested: LoadDType, rowLength: number): DType {
  if (requested === 'auto') return stored;
  if (requested === 'q8_0' || requested === 'q4_0') {
    if (rowLength % 32 !== 0) return stored === 'f32' || stored === 'f16' || stored === 'bf16' ? stored : 'f32';
    if (isQuantized(stored) && bitsPerWeight(stored) <= bitsPerWeight(requested)) return stored;
  }
  return requested;
}

export interface MatrixPart {
  readonly name: string;
  /** Expected [rows, cols] (or [n] for a vector) from the config. */
  readonly shape: readonly number[];
  /** Rows this part takes in the fused tensor, zero rows after its own (alignment); default its rows. */
  readonly padRows?: number;
}

function checkShape(src: WeightSource, part: MatrixPart): DType {
  const info = src.tensors.get(part.name);
  if (!info) throw new InvalidModelError(`tensor ${part.name} is missing from the checkpoint`);
  const got = info.shape.join(',');
  if (numel(info.shape) !== numel(part.shape) || (info.shape.length === part.shape.length && got !== part.shape.join(','))) {
    throw new InvalidModelError(`tensor ${part.name} has shape [${info.shape}] but the config implies [${part.shape}]`);
  }
  return info.dtype;
}

/**
 * Appends bytes to a GPU tensor in order, holding back a tail of < 4 bytes (writes are 4-byte aligned):
 * through the context's staging ring during a staged load (`GpuContext.withUploadStaging`), else (and for
 * small pieces) through queue writes.
 */
class TensorWriter {
  private pos = 0;
  private tail = new Uint8Array(0);
  private readonly staging: UploadStaging | undefined;
  constructor(
    private readonly ctx: GpuContext,
    private readonly t: Tensor,
  ) {
    this.staging = ctx.stagingRing;
  }

  /** Whether the next `bytes` can be read straight into the staging ring (`fill`). */
  canFill(bytes: number): boolean {
    return !!this.staging && this.tail.length === 0 && this.staging.fits(this.t.offset + this.pos, bytes);
  }

  /** Appends `bytes` that `fill` puts into a staging range (`canFill`); resolves once the range is taken, before it is filled. */
  async fill(bytes: number, fill: (target: Uint8Array) => Promise<void>): Promise<void> {
    await this.staging!.fill(this.t.buffer, this.t.offset + this.pos, bytes, fill);
    this.pos += bytes;
  }

  async append(data: Uint8Array): Promise<void> {
    let bytes = data;
    if (this.tail.length) {
      bytes = new Uint8Array(this.tail.length + data.length);
      bytes.set(this.tail);
      bytes.set(data, this.tail.length);
    }
    const start = this.pos - this.tail.length;
    const n = bytes.length - (bytes.length % 4);
    this.tail = bytes.slice(n);
    this.pos += data.length;
    if (n) await this.put(bytes.subarray(0, n), start);
  }

  async zeros(n: number): Promise<void> {
    for (let left = n; left > 0; left -= loadChunking.maxBytes) await this.append(new Uint8Array(Math.min(left, loadChunking.maxBytes)));
  }

  finish(): void {
    if (this.tail.length) this.ctx.write(this.t, this.tail, this.pos - this.tail.length);
    this.tail = new Uint8Array(0);
  }

  private async put(bytes: Uint8Array, at: number): Promise<void> {
    if (this.staging && bytes.byteLength >= uploadStaging.minBytes) await this.staging.write(this.t.buffer, this.t.offset + at, bytes);
    else this.ctx.write(this.t, bytes, at);
  }
}

interface StreamPart {
  readonly name: string;
  readonly stored: DType;
  readonly elems: number;
  /** Elements this part takes in the destination (>= elems; zeros after its own). */
  readonly slot: number;
  /** Elements read at a time are a multiple of this (a row, or whole blocks of both dtypes). */
  readonly granule: number;
}

/** One step of streaming a tensor: `m` elements of part `p` from element `at`, or zeros after a part. */
type StreamStep = { readonly p: StreamPart; readonly at: number; readonly m: number } | { readonly zeroBytes: number };

function streamSteps(parts: readonly StreamPart[], dtype: DType): StreamStep[] {
  const steps: StreamStep[] = [];
  for (const p of parts) {
    const granuleBytes = byteSizeOf(p.stored, p.granule);
    const step = Math.max(1, Math.floor(loadChunking.maxBytes / granuleBytes)) * p.granule;
    for (let at = 0; at < p.elems; at += step) steps.push({ p, at, m: Math.min(step, p.elems - at) });
    if (p.slot > p.elems) steps.push({ zeroBytes: byteSizeOf(dtype, p.slot - p.elems) });
  }
  return steps;
}

/** Stored bytes of a tensor's range into `target`: straight from the file where the source can, else copied. */
async function readRangeInto(src: WeightSource, name: string, byteOffset: number, target: Uint8Array): Promise<void> {
  if (src.readRangeInto) await src.readRangeInto(name, byteOffset, target);
  else target.set(await src.readRange(name, byteOffset, target.byteLength));
}

/**
 * Reads `parts` in chunks of at most loadChunking.maxBytes source bytes (whole granules, at least one),
 * converts each chunk to `dtype` and appends it to `t`; reports each chunk's source bytes to onBytes. During a
 * staged load, chunks kept as stored are read straight into the staging ring, and the ring's slots are the
 * reads in flight (they go on into the next tensors: this returns before its last reads are in). Other chunks
 * are read up to loadChunking.readAhead ahead while one is converted and written, and the context paces the
 * writes (GpuContext.uploadCheckpoint: bounded staging, allocation errors found a window after them).
 */
async function streamParts(
  ctx: GpuContext,
  t: Tensor,
  src: WeightSource,
  parts: readonly StreamPart[],
  dtype: DType,
  onBytes?: (n: number) => void,
): Promise<void> {
  const w = new TensorWriter(ctx, t);
  const steps = streamSteps(parts, dtype);
  const sizes = steps.map((s) => ('p' in s ? byteSizeOf(s.p.stored, s.m) : 0));
  // Which steps are read into the staging ring: kept as stored, at a 4-byte aligned place, whole words.
  const filled: boolean[] = [];
  const ring = ctx.stagingRing;
  for (let i = 0, pos = 0; i < steps.length; i++) {
    const s = steps[i]!;
    filled.push(!!ring && 'p' in s && s.p.stored === dtype && ring.fits(t.offset + pos, sizes[i]!));
    pos += 'p' in s ? byteSizeOf(dtype, s.m) : s.zeroBytes;
  }
  const reads = new Map<number, Promise<Uint8Array>>();
  let issued = 0;
  let ahead = 0; // bytes issued for steps after the one awaited
  const issue = (i: number) => {
    for (
      ;
      issued < steps.length && (issued <= i || (issued <= i + loadChunking.readAhead && ahead + sizes[issued]! <= loadChunking.readAheadBytes));
      issued++
    ) {
      const s = steps[issued]!;
      if (!('p' in s) || filled[issued]) continue;
      if (issued > i) ahead += sizes[issued]!;
      const read = src.readRange(s.p.name, byteSizeOf(s.p.stored, s.at), sizes[issued]!);
      read.catch(() => {}); // a read ahead that fails is reported when its step is reached (or not at all after an earlier failure)
      reads.set(issued, read);
    }
  };
  for (let i = 0; i < steps.length; i++) {
    await ctx.uploadCheckpoint();
    if (reads.has(i)) ahead -= sizes[i]!; // step i, read ahead, is the one awaited now
    issue(i);
    const s = steps[i]!;
    if (!('p' in s)) {
      await w.zeros(s.zeroBytes);
      continue;
    }
    const offset = byteSizeOf(s.p.stored, s.at);
    if (filled[i] && w.canFill(sizes[i]!)) {
      await w.fill(sizes[i]!, async (target) => {
        await readRangeInto(src, s.p.name, offset, target);
        onBytes?.(target.byteLength);
      });
      continue;
    }
    const bytes = await (reads.get(i) ?? src.readRange(s.p.name, offset, sizes[i]!));
    reads.delete(i);
    if (s.p.stored === dtype) {
      await w.append(bytes);
    } else {
      const values = toF32(bytes, s.p.stored, s.m);
      await w.append(dtype === 'f32' ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : quantize(values, dtype as never));
    }
    onBytes?.(bytes.byteLength);
  }
  w.finish();
}

/** Elements of a vector read at a time are whole blocks of both its stored and its GPU dtype. */
const vectorGranule = (stored: DType, dtype: DType) => Math.max(dtypeLayout[stored].blockElems, dtypeLayout[dtype].blockElems);

/**
 * Loads one or more tensors, concatenated along rows (fused [q|k|v] or [gate|up]), onto the GPU in
 * `requested` dtype. Tensors are read and converted in chunks of whole rows (loadChunking.maxBytes of
 * stored bytes), so peak host memory is a few chunks whatever the tensor's size.
 */
export async function loadMatrix(
  ctx: GpuContext,
  src: WeightSource,
  parts: readonly MatrixPart[],
  requested: LoadDType,
  label: string,
  onBytes?: (n: number) => void,
): Promise<Tensor> {
  const cols = parts[0]!.shape.at(-1)!;
  const rowsOf = (p: MatrixPart) => numel(p.shape) / cols;
  const stored = parts.map((p) => checkShape(src, p));
  const mixed = stored.some((d) => d !== stored[0]);
  // Parts stored in different block formats (GGUF q4_k beside q6_k) are fused as f16 when kept 'auto'.
  const want = mixed && requested === 'auto' ? 'f16' : requested;
  const dtype = stored.map((d) => targetDType(d, want, cols)).reduce((a, b) => (a === b ? a : 'f32'));
  const rows = parts.reduce((n, p) => n + (p.padRows ?? rowsOf(p)), 0);
  const vector = parts[0]!.shape.length === 1 && parts.length === 1;
  const shape = vector ? [cols] : [rows, cols];
  const t = ctx.createTensor(shape, dtype, label);
  const stream = parts.map((p, i) => ({
    name: p.name,
    stored: stored[i]!,
    elems: numel(p.shape),
    slot: (p.padRows ?? rowsOf(p)) * cols,
    granule: vector ? vectorGranule(stored[i]!, dtype) : cols,
  }));
  await streamInto(ctx, t, src, stream, dtype, onBytes);
  return t;
}

/** A small tensor (norm weight, bias) as f32 on the GPU, whatever its stored dtype. */
export async function loadF32(ctx: GpuContext, src: WeightSource, part: MatrixPart, label: string, onBytes?: (n: number) => void): Promise<Tensor> {
  return loadMatrix(ctx, src, [part], 'f32', label, onBytes);
}

/** A tensor's values on the CPU as f32 (tensors rearranged at load), checked against the config's shape. */
export async function readF32(src: WeightSource, part: MatrixPart): Promise<Float32Array> {
  const dtype = checkShape(src, part);
  return toF32(await src.read(part.name), dtype, numel(part.shape));
}

/** Several vectors (q/k/v biases) concatenated into one f32 tensor. */
export async function loadF32Concat(
  ctx: GpuContext,
  src: WeightSource,
  parts: readonly MatrixPart[],
  label: string,
  onBytes?: (n: number) => void,
): Promise<Tensor> {
  const stream = parts.map((p) => {
    const stored = checkShape(src, p);
    return { name: p.name, stored, elems: numel(p.shape), slot: p.padRows ?? numel(p.shape), granule: vectorGranule(stored, 'f32') };
  });
  const t = ctx.createTensor([stream.reduce((a, p) => a + p.slot, 0)], 'f32', label);
  await streamInto(ctx, t, src, stream, 'f32', onBytes);
  return t;
}

/**
 * streamParts into a tensor just created: a read that fails (truncated, aborted) destroys it, so a failed load
 * holds nothing (and ends the staged load: nothing staged is copied into a destroyed buffer).
 */
async function streamInto(...args: Parameters<typeof streamParts>): Promise<void> {
  const [ctx, t] = args;
  try {
    await streamParts(...args);
  } catch (err) {
    ctx.stagingRing?.abandon(err);
    ctx.destroyBuffer(t.buffer);
    throw err;
  }
}
