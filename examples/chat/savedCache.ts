// The KV cache of the open conversation, kept in IndexedDB (idb-keyval, database `weblm-chat-kv`) after each
// reply and given back to the engine when the same model is loaded again, so the next turn after a reload
// does not read the whole history again. One snapshot is kept (the last conversation replied in): a cache
// holds tens of KB per token for real models, so a cache per conversation would fill the storage quickly.
import { createStore, del, get, set, type UseStore } from 'idb-keyval';
import type { CacheSnapshot } from '../../src/index.js';

/** Snapshots over this many bytes are not saved (the next turn then reads the history again). */
export const MAX_SAVED_CACHE_BYTES = 256 * 1024 * 1024;

interface SavedCache {
  readonly conversationId: string;
  readonly snapshot: CacheSnapshot;
  readonly bytes: number;
}

const KEY = 'open';

export class SavedCacheStore {
  private readonly store: UseStore;
  /** Bytes per cached token of the last model saved, to skip reading back a cache too large to keep. */
  private rate: { model: string; bytesPerToken: number } | undefined;

  constructor(dbName = 'weblm-chat-kv') {
    this.store = createStore(dbName, 'snapshots');
  }

  /** Whether a cache of `tokens` tokens of `model` can be kept (unknown until one of the model was saved). */
  fits(model: string, tokens: number): boolean {
    return this.rate?.model !== model || tokens * this.rate.bytesPerToken <= MAX_SAVED_CACHE_BYTES;
  }

  /** Saves the snapshot as the cache of `conversationId`; returns false (and drops the old one) when it is too large. */
  async save(conversationId: string, snapshot: CacheSnapshot, model: string): Promise<boolean> {
    const bytes = snapshot.layers.reduce((a, l) => a + l.k.byteLength + l.v.byteLength, 0);
    this.rate = { model, bytesPerToken: bytes / Math.max(1, snapshot.tokens.length) };
    if (bytes > MAX_SAVED_CACHE_BYTES) {
      await del(KEY, this.store);
      return false;
    }
    await set(KEY, { conversationId, snapshot, bytes } satisfies SavedCache, this.store);
    return true;
  }

  /** The saved cache of `conversationId`, if it is the one kept. */
  async load(conversationId: string): Promise<SavedCache | undefined> {
    const saved = await get<SavedCache>(KEY, this.store);
    return saved?.conversationId === conversationId ? saved : undefined;
  }

  async forget(conversationId: string): Promise<void> {
    if (await this.load(conversationId)) await del(KEY, this.store);
  }
}
