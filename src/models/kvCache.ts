import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { LayerKv } from '../layers/layerKv.js';
import type { LayerKind } from './config.js';

export type { LayerKv };

export interface KvCacheShape {
  readonly layerTypes: readonly LayerKind[];
  readonly slidingWindow?: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly headDimV?: number;
}

/**
 * The KV cache with a per-layer policy: full layers hold every position up to maxContext; sliding layers
 * hold a ring of window + maxChunk - 1 slots, enough for a chunk of maxChunk queries to see their whole
 * window after the chunk's keys were written, so their memory stays bounded whatever the context.
 */
export class KvCache {
  readonly layers: LayerKv[];
  /** Positions 0 .. length - 1 are cached. */
  length = 0;

  constructor(
    ctx: GpuContext,
    shape: KvCacheShape,
    readonly maxContext: number,
    readonly maxChunk: number,
  ) {
    const { numKvHeads: n, headDim, headDimV = headDim } = shape;
    this.layers = shape.layerTypes.map((kind, i) => {
      const window = kind === 'sliding' ? shape.slidingWindow : undefined;
      const capacity = window === undefined ? maxContext : Math.min(maxContext, window + maxChunk - 1);
      return {
        k: ctx.createTensor([capacity, n, headDim], 'f32', `kv.${i}.k`),
        v: ctx.createTensor([capacity, n, headDimV], 'f32', `kv.${i}.v`),
        capacity,
        window,
      };
    });
  }

  /**
   * Whether `count` tokens can be forwarded at `start` (dropping what is cached from `start` on): within
   * maxContext, and for ring layers the window before `start` must not have been overwritten yet.
   */
  canForwardAt(start: number, count = 1): boolean {
    try {
      this.check(start, count);
      return true;
    } catch {
      return false;
    }
  }

  check(start: number, count: number): void {
    if (start < 0 || start > this.length) {
      throw new InvalidArgumentError(`forward at position ${start}, but only ${this.length} positions are cached`);
    }
    if (start + count > this.maxContext) {
      throw new InvalidArgumentError(
        `${start + count} positions exceed the context of ${this.maxContext} tokens this model was loaded with (maxContext)`,
      );
    }
    for (const l of this.layers) {
      if (l.window === undefined || l.capacity >= this.maxContext) continue;
      const oldestNeeded = Math.max(0, start - l.window + 1);
      const oldestHeld = Math.max(0, this.length - l.capacity);
      if (oldestNeeded < oldestHeld) {
        throw new InvalidArgumentError(
          `cannot rewind a sliding-window cache from ${this.length} to ${start}: positions from ${oldestNeeded} were overwritten`,
        );
      }
    }
  }

  bytes(): number {
    return this.layers.reduce((a, l) => a + l.k.buffer.size + l.v.buffer.size, 0);
  }

  destroy(ctx: GpuContext): void {
    for (const l of this.layers) {
      ctx.destroyBuffer(l.k.buffer);
      ctx.destroyBuffer(l.v.buffer);
    }
  }
}
