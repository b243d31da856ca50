import type { GpuContext } from '../gpu/context.js';
import { tensorBytes, type DType, type Tensor } from '../gpu/tensor.js';

/**
 * Where a loaded tensor's bytes go, at byte offsets that only grow: a tensor mapped at creation (the bytes
 * copied, or read from the file, straight into its mapped range, then unmapped once: no queue writes and
 * no staging copy of them), or a tensor written through queue writes (larger tensors, whose mapped range
 * would hold that much host memory at once).
 */
export interface TensorSink {
  readonly tensor: Tensor;
  /** The destination bytes [at, at + n) to read into directly, where the sink is mapped. */
  region(at: number, n: number): Uint8Array | undefined;
  /** Bytes at `at` (at the end of what was written before, or in a region not written yet). */
  write(at: number, data: Uint8Array): void;
  /** n zero bytes at `at`. */
  zeros(at: number, n: number): void;
  /** All bytes are in: the tensor can be used. */
  finish(): void;
}

/**
 * Tensors up to `mappedBytes` are loaded mapped at creation (0: none, every tensor through queue writes;
 * benchmarks compare). The bound is the host memory of one mapped range (Dawn stages it whole).
 */
export const tensorSinks = { mappedBytes: 256 * 1024 * 1024 };

/** A new tensor to load into, and its sink. */
export function createSinkTensor(ctx: GpuContext, shape: readonly number[], dtype: DType, label: string): TensorSink {
  const bytes = tensorBytes({ shape, dtype });
  if (bytes <= tensorSinks.mappedBytes) {
    const { buffer, range } = ctx.createMappedBuffer(bytes, undefined, label);
    return new MappedSink({ buffer, offset: 0, shape, dtype, label }, range);
  }
  return new QueueSink(ctx, ctx.createTensor(shape, dtype, label));
}

class MappedSink implements TensorSink {
  constructor(
    readonly tensor: Tensor,
    private range: Uint8Array | undefined,
  ) {}

  region(at: number, n: number): Uint8Array {
    return this.mapped().subarray(at, at + n);
  }

  write(at: number, data: Uint8Array): void {
    this.mapped().set(data, at);
  }

  zeros(): void {} // a range mapped at creation starts as zeros

  finish(): void {
    this.mapped();
    this.range = undefined;
    this.tensor.buffer.unmap();
  }

  private mapped(): Uint8Array {
    if (!this.range) throw new Error(`${this.tensor.label}: written after it was finished`);
    return this.range;
  }
}

/** Bytes appended in order through queue writes, holding back a tail of < 4 bytes (writes are 4-byte aligned). */
class QueueSink implements TensorSink {
  private pos = 0;
  private tail = new Uint8Array(0);
  constructor(
    private readonly ctx: GpuContext,
    readonly tensor: Tensor,
  ) {}

  region(): undefined {
    return undefined;
  }

  write(at: number, data: Uint8Array): void {
    if (at !== this.pos) throw new Error(`${this.tensor.label}: bytes at ${at} written after ${this.pos}`);
    let bytes = data;
    if (this.tail.length) {
      bytes = new Uint8Array(this.tail.length + data.length);
      bytes.set(this.tail);
      bytes.set(data, this.tail.length);
    }
    const start = this.pos - this.tail.length;
    const n = bytes.length - (bytes.length % 4);
    if (n) this.ctx.write(this.tensor, bytes.subarray(0, n), start);
    this.tail = bytes.slice(n);
    this.pos += data.length;
  }

  zeros(at: number, n: number): void {
    const step = 16 * 1024 * 1024;
    for (let done = 0; done < n; done += step) this.write(at + done, new Uint8Array(Math.min(step, n - done)));
  }

  finish(): void {
    if (this.tail.length) this.ctx.write(this.tensor, this.tail, this.pos - this.tail.length);
    this.tail = new Uint8Array(0);
  }
}
