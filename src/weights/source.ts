import { InvalidModelError } from '../errors.js';
import type { DType } from '../gpu/tensor.js';

/** config.json of a checkpoint as read (or as a GGUF file's metadata maps onto it): src/models normalises it. */
export type RawConfig = Readonly<Record<string, unknown>>;

/** Weight dtypes a model can be loaded in: as stored, f32, or quantized at load. */
export type LoadDType = 'auto' | 'f32' | 'f16' | 'q8_0' | 'q4_0';

/** A stored tensor: its dtype as stored and its shape in PyTorch order (a Linear weight is [out, in]). */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly byteLength: number;
}

/**
 * The tensors of a checkpoint under Hugging Face names, whatever the file format: safetensors (one file
 * or shards) or GGUF (names and shapes mapped to the Hugging Face ones by src/weights/gguf*).
 */
export interface WeightSource {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** The stored bytes of one tensor (block formats as stored). Rejects with InvalidModelError when missing or truncated. */
  read(name: string): Promise<Uint8Array>;
  /**
   * Bytes [byteOffset, byteOffset + byteLength) of one tensor's stored bytes, as `read` would return them
   * (loaders read tensors in chunks of whole rows through this). Rejects with InvalidModelError when the
   * tensor is missing or the range passes its end.
   */
  readRange(name: string, byteOffset: number, byteLength: number): Promise<Uint8Array>;
  /**
   * `readRange(name, byteOffset, target.byteLength)` into `target`: straight from the file where the bytes are
   * stored as they are read and the file can read into given memory (ByteSource.readInto), else copied.
   */
  readRangeInto?(name: string, byteOffset: number, target: Uint8Array): Promise<void>;
}

/** Throws InvalidModelError unless [byteOffset, byteOffset + byteLength) lies inside `info`'s bytes. */
export function checkRange(info: TensorInfo, byteOffset: number, byteLength: number, where: string): void {
  if (!Number.isInteger(byteOffset) || !Number.isInteger(byteLength) || byteOffset < 0 || byteLength < 0 || byteOffset + byteLength > info.byteLength) {
    throw new InvalidModelError(`${where}: bytes [${byteOffset}, ${byteOffset + byteLength}) are outside tensor ${info.name} (${info.byteLength} bytes)`);
  }
}
