import { InvalidModelError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { byteSizeOf, dtypeLayout, isQuantized, numel, type DType, type Tensor } from '../gpu/tensor.js';
import type { LoadDType } from '../models/types.js';
import { dequantize, quantize } from './quant/index.js';
import type { WeightSource } from './source.js';

const CHUNK_VALUES = 16 * 1024 * 1024; // f32 values converted at a time (64 MB)

/** f32 values of stored bytes: f32, f16, bf16, or a block format. */
export function toF32(bytes: Uint8Array, dtype: DType, count: number): Float32Array {
  if (dtype === 'f32') {
    const copy = bytes.slice(0, count * 4);
    return new Float32Array(copy.buffer, 0, count);
  }
  if (dtype === 'f16' || dtype === 'bf16') {
    const u16 = new Uint16Array(bytes.slice(0, count * 2).buffer, 0, count);
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
 * Loads one or more tensors, concatenated along rows (fused [q|k|v] or [gate|up]), onto the GPU in
 * `requested` dtype. Values are converted in chunks of rows, so no host array passes ~64 MB beyond the
 * stored bytes of one tensor.
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
  const shape = parts[0]!.shape.length === 1 && parts.length === 1 ? [cols] : [rows, cols];
  const t = ctx.createTensor(shape, dtype, label);
  let row = 0;
  for (let i = 0; i < parts.length; i++) {
    const bytes = await src.read(parts[i]!.name);
    const n = rowsOf(parts[i]!);
    if (stored[i] === dtype) {
      ctx.write(t, bytes, byteSizeOf(dtype, row * cols));
    } else {
      const chunkRows = Math.max(4, Math.floor(CHUNK_VALUES / cols / 4) * 4);
      for (let r = 0; r < n; r += chunkRows) {
        const m = Math.min(chunkRows, n - r);
        const from = byteSizeOf(stored[i]!, r * cols);
        const part = bytes.subarray(from, from + byteSizeOf(stored[i]!, m * cols));
        const values = toF32(part, stored[i]!, m * cols);
        const out = dtype === 'f32' ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : quantize(values, dtype as never);
        ctx.write(t, out, byteSizeOf(dtype, (row + r) * cols));
      }
    }
    onBytes?.(bytes.byteLength);
    row += parts[i]!.padRows ?? n;
  }
  return t;
}

/** A small tensor (norm weight, bias) as f32 on the GPU, whatever its stored dtype. */
export async function loadF32(ctx: GpuContext, src: WeightSource, part: MatrixPart, label: string, onBytes?: (n: number) => void): Promise<Tensor> {
  return loadMatrix(ctx, src, [part], 'f32', label, onBytes);
}

/** Several vectors (q/k/v biases) concatenated into one f32 tensor. */
export async function loadF32Concat(ctx: GpuContext, src: WeightSource, parts: readonly MatrixPart[], label: string): Promise<Tensor> {
  const n = parts.reduce((a, p) => a + (p.padRows ?? numel(p.shape)), 0);
  const out = new Float32Array(n);
  let at = 0;
  for (const p of parts) {
    const d = checkShape(src, p);
    const v = toF32(await src.read(p.name), d, numel(p.shape));
    out.set(v, at);
    at += p.padRows ?? v.length;
  }
  return ctx.upload(out, [n], 'f32', label);
}
