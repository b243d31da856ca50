/**
 * A conversation's KV cache as it leaves the GPU (`engine.exportCache()`), to be stored (IndexedDB, a file)
 * and put back into an engine that loaded the same model (`engine.importCache()`), so that the next turn
 * forwards only what follows the saved tokens. Its own module: engine/types.ts and the code that reads and
 * writes the cache both use it.
 */
export interface CacheSnapshot {
  readonly format: typeof CACHE_SNAPSHOT_FORMAT;
  /** The model it belongs to: source, model type, weight dtype, vocabulary and weight bytes (cacheModelKey). */
  readonly modelKey: string;
  /** How the rows are stored: the cache's own dtype. */
  readonly dtype: 'f32';
  /** The token ids of the cached positions 0 .. tokens.length - 1. */
  readonly tokens: readonly number[];
  /** One per layer, in layer order. */
  readonly layers: readonly CacheLayerSnapshot[];
}

export interface CacheLayerSnapshot {
  /** Sliding-window layers: their window (they hold only their last positions). */
  readonly window?: number;
  /** [kv heads, head dim] of a key row and of a value row (MLA layers: [1, latent + rope dim] and [1, 1]). */
  readonly kShape: readonly [number, number];
  readonly vShape: readonly [number, number];
  /** The first position whose rows are held: 0, or for a sliding layer the oldest it still had. */
  readonly first: number;
  readonly k: ArrayBuffer; // [tokens.length - first, ...kShape] f32
  readonly v: ArrayBuffer; // [tokens.length - first, ...vShape] f32
}

export const CACHE_SNAPSHOT_FORMAT = 'weblm-kv-cache/1';

/** The ArrayBuffers of a snapshot, to transfer it across postMessage instead of copying it. */
export function snapshotBuffers(s: CacheSnapshot): ArrayBuffer[] {
  return s.layers.flatMap((l) => [l.k, l.v]);
}
