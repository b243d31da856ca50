import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import type { LayerKv } from '../layers/layerKv.js';
import type { LayerKind } from './config.js';

export type { LayerKv };

/** One layer's cached keys and values as read back: positions `first` .. length - 1, in position order. */
export interface KvLayerRows {
  readonly first: number;
  readonly k: ArrayBuffer; // [length - first, nKv, headDim] f32
  readonly v: ArrayBuffer; // [length - first, nKv, headDimV] f32
}

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

  /**
   * Reads back the rows of every cached position a layer still holds (a ring layer: its last `capacity`
   * positions), in position order: what `writeRows` needs to restore this cache in another one. `length`
   * (at most the cached length) reads the rows of positions 0 .. length - 1 only.
   */
  async readRows(ctx: GpuContext, length = this.length): Promise<KvLayerRows[]> {
    if (!Number.isInteger(length) || length < 0 || length > this.length) {
      throw new InvalidArgumentError(`cannot read ${length} positions: ${this.length} are cached`);
    }
    const out: KvLayerRows[] = [];
    for (const l of this.layers) {
      const held = Math.min(length, l.capacity);
      const first = length - held;
      if (first < this.length - l.capacity) throw new InvalidArgumentError(`positions from ${first} of a sliding-window layer were overwritten`);
      out.push({ first, k: await readSlots(ctx, l.k, first, held, l.capacity), v: await readSlots(ctx, l.v, first, held, l.capacity) });
    }
    return out;
  }

  /**
   * Restores `length` cached positions from rows read by `readRows` of a cache of the same shape (its
   * capacities may differ: each layer needs the rows of the positions it holds). Drops what was cached.
   */
  writeRows(ctx: GpuContext, rows: readonly KvLayerRows[], length: number): void {
    if (rows.length !== this.layers.length) throw new InvalidArgumentError(`the cache has ${this.layers.length} layers, the rows ${rows.length}`);
    if (!Number.isInteger(length) || length < 0 || length > this.maxContext) {
      throw new InvalidArgumentError(`${length} cached positions do not fit the context of ${this.maxContext} tokens this model was loaded with`);
    }
    this.layers.forEach((l, i) => {
      const r = rows[i]!;
      const held = Math.min(length, l.capacity);
      if (!Number.isInteger(r.first) || r.first < 0 || r.first > length - held) {
        throw new InvalidArgumentError(`layer ${i} holds positions ${length - held}..${length - 1}, the rows start at ${r.first}`);
      }
      for (const [t, data] of [
        [l.k, r.k],
        [l.v, r.v],
      ] as const) {
        const row = rowBytes(t);
        if (data.byteLength !== (length - r.first) * row) {
          throw new InvalidArgumentError(`layer ${i}: ${data.byteLength} bytes of rows, expected ${(length - r.first) * row} (${length - r.first} positions)`);
        }
      }
    });
    this.length = 0;
    ctx.flush(); // work recorded before must not see the restored rows
    this.layers.forEach((l, i) => {
      const r = rows[i]!;
      const held = Math.min(length, l.capacity);
      writeSlots(ctx, l.k, r.k, length - held - r.first, length - held, held, l.capacity);
      writeSlots(ctx, l.v, r.v, length - held - r.first, length - held, held, l.capacity);
    });
    this.length = length;
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

/** Bytes of one position's row of a [capacity, n, d] f32 layer tensor. */
function rowBytes(t: Tensor): number {
  return t.shape[1]! * t.shape[2]! * 4;
}

/** The ranges of slots of positions first .. first + count - 1 in a ring of `capacity` (one, or two when it wraps). */
function slotRanges(first: number, count: number, capacity: number): [slot: number, rows: number][] {
  const s = first % capacity;
  return s + count <= capacity ? [[s, count]] : [[s, capacity - s], [0, count - (capacity - s)]];
}

async function readSlots(ctx: GpuContext, t: Tensor, first: number, count: number, capacity: number): Promise<ArrayBuffer> {
  const row = rowBytes(t);
  const out = new Uint8Array(count * row);
  let at = 0;
  for (const [slot, rows] of count > 0 ? slotRanges(first, count, capacity) : []) {
    const bytes = rows * row;
    out.set(new Uint8Array(await ctx.read({ buffer: t.buffer, offset: t.offset + slot * row, size: bytes }, bytes)), at);
    at += bytes;
  }
  return out.buffer;
}

/** Writes rows skip .. skip + count - 1 of `data` at the slots of positions first .. first + count - 1. */
function writeSlots(ctx: GpuContext, t: Tensor, data: ArrayBuffer, skip: number, first: number, count: number, capacity: number): void {
  const row = rowBytes(t);
  let at = skip * row;
  for (const [slot, rows] of count > 0 ? slotRanges(first, count, capacity) : []) {
    ctx.write({ buffer: t.buffer, offset: t.offset + slot * row }, new Uint8Array(data, at, rows * row));
    at += rows * row;
  }
}
