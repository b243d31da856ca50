import type { GpuContext } from '../gpu/context.js';
import type { DType, Tensor } from '../gpu/tensor.js';
import type { EmbeddingRows } from './embeddingOverride.js';

import type { LoadDType } from '../weights/source.js';

export type { LoadDType };

/** What the engine needs to know about a loaded model, whatever its family. */
export interface ModelInfo {
  readonly modelType: string;
  readonly vocabSize: number;
  /** Longest sequence (prompt + generated) the KV cache holds. */
  readonly maxContext: number;
  readonly eosTokenIds: readonly number[];
  readonly bosTokenId?: number;
  readonly weightDType: DType | 'mixed';
  /** Bytes of GPU memory held by the weights. */
  readonly weightBytes: number;
  /** Bytes of GPU memory held by weights and caches. */
  readonly gpuBytes: number;
}

/**
 * A model on the GPU with its KV cache. `forward` records the work of `ids` at positions
 * [start, start + ids.length) (appending their keys and values to the cache, dropping what was cached at
 * positions >= start), and returns the logits on the GPU without reading them back.
 */
export interface ForwardOptions {
  /** Logits of every position, not just the last. */
  allLogits?: boolean;
  /**
   * A u32 GPU tensor whose first element is the token to feed (one token: `ids` is then a placeholder of
   * length 1): the id sampled by the step before, copied on the GPU, so that this step can be recorded and
   * submitted before that id is read back.
   */
  idFrom?: Tensor;
  /** Rows replacing the embeddings of some of `ids` (image features at image tokens), see embeddingOverride.ts. */
  embeddings?: readonly EmbeddingRows[];
  /** The rotary position of each of `ids` where it is not its cache index (Qwen2-VL's text after an image: index + rope_delta). */
  positions?: Uint32Array;
  /**
   * M-RoPE (Qwen2-VL's prompt with images): the rotary positions of `ids` in 3 rows t, h, w ([3 * n], row r at
   * r * n) and the rotated pairs each row turns (mrope_section).
   */
  mrope?: { readonly positions: Uint32Array; readonly sections: readonly [number, number, number] };
}

export interface LoadedModel {
  readonly ctx: GpuContext;
  readonly info: ModelInfo;
  /** Tokens whose keys and values are in the cache (positions 0 .. cachedLength - 1). */
  readonly cachedLength: number;
  /**
   * logits: [ids.length, vocab] f32 when `allLogits`, else [1, vocab] f32 (the last position). The tensor
   * is owned by the model and overwritten by the next call.
   */
  forward(ids: ArrayLike<number>, start: number, opts?: ForwardOptions): Tensor;
  /**
   * Whether `forward` may start at `start` (<= cachedLength): false where a sliding-window ring already
   * overwrote keys that position needs (then forward from 0). Absent: always true.
   */
  canForwardAt?(start: number): boolean;
  /**
   * On an empty cache: compiles what a decode step runs at the shortest and at the longest context the cache
   * holds (the attention splits its keys differently there), so that no step stalls on a compile when a long
   * generation crosses over. The cache is empty after. Absent: nothing to prepare.
   */
  prepareDecode?(): Promise<void>;
  dispose(): void;
}
