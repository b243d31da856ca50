import { createStore, del, delMany, get, keys, set, type UseStore } from 'idb-keyval';

/**
 * The key-value store behind the model cache: IndexedDB through idb-keyval by default, injectable so
 * tests can wrap it (a store whose `set` throws QuotaExceededError) and other hosts can swap it.
 */
export interface KeyValueStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  delMany(keys: string[]): Promise<void>;
  keys(): Promise<string[]>;
}

/** An IndexedDB object store (database `dbName`, store `chunks`). */
export function idbStore(dbName = 'weblm-models'): KeyValueStore {
  const store: UseStore = createStore(dbName, 'chunks');
  return {
    get: (key) => get(key, store),
    set: (key, value) => set(key, value, store),
    del: (key) => del(key, store),
    delMany: (k) => delMany(k, store),
    keys: async () => (await keys(store)).map(String),
  };
}

/** Default bytes per stored chunk: small enough to stream, large enough to keep IndexedDB transactions few. */
export const DEFAULT_CHUNK_SIZE = 16 << 20;

/** A file of a model in the store. `chunks` complete chunks are stored; `verified` once size/sha256 passed. */
export interface FileRecord {
  readonly path: string;
  readonly size: number;
  readonly chunkSize: number;
  /** Complete chunks stored, in order (the last may be shorter: size % chunkSize). */
  chunks: number;
  /** sha256 (hex) announced by the server for LFS files (x-linked-etag), checked before `verified`. */
  readonly sha256?: string;
  verified: boolean;
}

/** A model in the store; it counts as cached only when `complete` (every file verified). */
export interface ModelRecord {
  readonly id: string;
  readonly repo: string;
  readonly revision: string;
  readonly baseUrl: string;
  readonly files: readonly { path: string; size: number }[];
  complete: boolean;
  cachedAt?: number;
}

/** Store keys. A model is `repo@revision`; keys sort so that one model's entries are contiguous. */
export const storeKeys = {
  model: (id: string) => `model/${id}`,
  file: (id: string, path: string) => `file/${id}/${path}`,
  chunk: (id: string, path: string, i: number) => `chunk/${id}/${path}#${i}`,
  isModel: (k: string) => k.startsWith('model/'),
  ofModel: (k: string, id: string) => k.startsWith(`file/${id}/`) || k.startsWith(`chunk/${id}/`) || k === `model/${id}`,
  ofFile: (k: string, id: string, path: string) => k === `file/${id}/${path}` || k.startsWith(`chunk/${id}/${path}#`),
};

export const modelId = (repo: string, revision: string) => `${repo}@${revision}`;

/** Number of chunks of a file. */
export const chunkCount = (size: number, chunkSize: number) => Math.ceil(size / chunkSize);
/** Byte length of chunk i. */
export const chunkLength = (size: number, chunkSize: number, i: number) => Math.min(chunkSize, size - i * chunkSize);
