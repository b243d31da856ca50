import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';

/**
 * Rows that replace the token embeddings of a forward: `rows` [n, H] f32 at the positions of ids
 * at .. at + n - 1 (index into the forward's ids). Image features of a multimodal prompt.
 */
export interface EmbeddingRows {
  readonly at: number;
  readonly rows: Tensor;
}

/**
 * Overwrites the rows of h [T, H] (the embedding output of ids off .. off + T - 1 of the forward) that
 * `overrides` cover, with buffer copies recorded after the embedding and before layer 0.
 */
export function overrideEmbeddings(ctx: GpuContext, h: Tensor, off: number, T: number, overrides: readonly EmbeddingRows[]): void {
  const H = h.shape[1]!;
  for (const o of overrides) {
    const n = o.rows.shape[0]!;
    if (o.rows.dtype !== 'f32' || o.rows.shape[1] !== H)
      throw new InvalidArgumentError(`embedding rows [${o.rows.shape}] ${o.rows.dtype} must be [n, ${H}] f32`);
    const from = Math.max(o.at, off);
    const to = Math.min(o.at + n, off + T);
    if (from >= to) continue;
    const src = { buffer: o.rows.buffer, offset: o.rows.offset + (from - o.at) * H * 4, size: (to - from) * H * 4 };
    ctx.copy(src, { buffer: h.buffer, offset: h.offset + (from - off) * H * 4, size: (to - from) * H * 4 }, (to - from) * H * 4);
  }
}
