import type { DType } from '../gpu/tensor.js';

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
}
