import { CacheMismatchError, InvalidArgumentError, UnsupportedModelError } from '../errors.js';
import { DecoderModel } from '../models/decoder.js';
import type { KvCache } from '../models/kvCache.js';
import { CACHE_SNAPSHOT_FORMAT, type CacheLayerSnapshot, type CacheSnapshot } from './cacheSnapshot.js';
import type { GenerationSession } from './generate.js';

/** What a saved cache must match: the model's source, type, weight dtype, vocabulary and weight bytes. */
export function cacheModelKey(source: string, s: GenerationSession): string {
  const i = s.model.info;
  return [source, i.modelType, i.weightDType, i.vocabSize, i.weightBytes].join('|');
}

/** The text decoder's cache; vision models are refused (their cache depends on the images of the prompt). */
function decoderCache(source: string, s: GenerationSession): KvCache {
  if (!(s.model instanceof DecoderModel)) {
    throw new UnsupportedModelError(`${source}: the KV cache of a vision model cannot be exported or imported (it depends on the prompt's images)`);
  }
  return s.model.cache;
}

/** Reads the cached positions the engine knows the tokens of back from the GPU. Call inside the engine's lock. */
export async function exportSnapshot(source: string, s: GenerationSession): Promise<CacheSnapshot> {
  const cache = decoderCache(source, s);
  const tokens = s.kv.tokens.slice(0, Math.min(s.kv.length, cache.length));
  const rows = await cache.readRows(s.model.ctx, tokens.length);
  const layers = cache.layers.map((l, i): CacheLayerSnapshot => {
    const r = rows[i]!;
    return {
      ...(l.window !== undefined ? { window: l.window } : {}),
      kShape: [l.k.shape[1]!, l.k.shape[2]!],
      vShape: [l.v.shape[1]!, l.v.shape[2]!],
      first: r.first,
      k: r.k,
      v: r.v,
    };
  });
  return { format: CACHE_SNAPSHOT_FORMAT, modelKey: cacheModelKey(source, s), dtype: 'f32', tokens, layers };
}

/**
 * Puts a snapshot back into the cache (dropping what it held) and tells the prefix reuse which tokens it
 * holds, so the next prompt that starts with them forwards only the rest. Call inside the engine's lock.
 */
export function importSnapshot(source: string, s: GenerationSession, snap: CacheSnapshot): void {
  const cache = decoderCache(source, s);
  checkSnapshot(snap, cacheModelKey(source, s), cache, s.model.info.vocabSize);
  cache.writeRows(s.model.ctx, snap.layers, snap.tokens.length);
  s.kv.clear();
  s.kv.forwarded(snap.tokens, 0);
}

function checkSnapshot(snap: CacheSnapshot, modelKey: string, cache: KvCache, vocab: number): void {
  if (typeof snap !== 'object' || snap === null || snap.format !== CACHE_SNAPSHOT_FORMAT) {
    throw new InvalidArgumentError(`not a KV cache snapshot (format ${String((snap as { format?: unknown })?.format)}, expected ${CACHE_SNAPSHOT_FORMAT})`);
  }
  if (snap.modelKey !== modelKey) throw new CacheMismatchError(`the saved cache belongs to ${snap.modelKey}, the loaded model is ${modelKey}`);
  if (snap.dtype !== 'f32') throw new CacheMismatchError(`the saved cache is ${snap.dtype}; this engine's cache is f32`);
  const n = snap.tokens.length;
  if (n >= cache.maxContext) {
    throw new CacheMismatchError(
      `the saved cache holds ${n} tokens; the model was loaded with a context of ${cache.maxContext} (load it with a larger maxContext)`,
    );
  }
  for (const id of snap.tokens) {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new InvalidArgumentError(`saved token id ${id} is outside the vocabulary (0..${vocab - 1})`);
  }
  if (snap.layers.length !== cache.layers.length) {
    throw new CacheMismatchError(`the saved cache has ${snap.layers.length} layers, the model ${cache.layers.length}`);
  }
  cache.layers.forEach((l, i) => {
    const sl = snap.layers[i]!;
    const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, j) => x === b[j]);
    if (sl.window !== l.window || !same(sl.kShape, l.k.shape.slice(1)) || !same(sl.vShape, l.v.shape.slice(1))) {
      throw new CacheMismatchError(
        `layer ${i}: the saved cache is ${describe(sl.window, sl.kShape, sl.vShape)}, the model's ${describe(l.window, l.k.shape.slice(1), l.v.shape.slice(1))}`,
      );
    }
    const need = n - Math.min(n, l.capacity);
    if (sl.first > need) {
      throw new CacheMismatchError(
        `layer ${i} (sliding window ${l.window}) needs the rows of positions ${need}.., the saved cache holds them from ${sl.first} (a shorter ring than this load's)`,
      );
    }
  });
}

function describe(window: number | undefined, k: readonly number[], v: readonly number[]): string {
  return `${window === undefined ? 'full' : `sliding ${window}`} k [${k.join(', ')}] v [${v.join(', ')}]`;
}
