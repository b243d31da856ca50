// Storage API in the page (IndexedDB, fetch, streams of real Chromium), driven by test/e2e/storage.test.ts.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  cachedModelFiles,
  deleteCachedModel,
  downloadModel,
  idbStore,
  isModelCached,
  listCachedModels,
  uploadStreamed,
  type DownloadProgress,
  type KeyValueStore,
} from '../../../src/storage/index.js';
import { StorageQuotaError, WebLMError } from '../../../src/errors.js';

export interface DownloadJob {
  baseUrl: string;
  chunkSize?: number;
  retries?: number;
  concurrency?: number;
  files?: string[];
  /** The store's `set` throws QuotaExceededError from this chunk on. */
  quotaAfterChunks?: number;
}

export type Outcome<T> = { ok: T } | { error: { name: string; message: string; code?: string; needed?: number; available?: number; typed: boolean } };

async function outcome<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: await fn() };
  } catch (e) {
    const err = e as Error & { code?: string };
    return {
      error: {
        name: err.name,
        message: err.message,
        code: err.code,
        needed: e instanceof StorageQuotaError ? e.needed : undefined,
        available: e instanceof StorageQuotaError ? e.available : undefined,
        typed: e instanceof WebLMError,
      },
    };
  }
}

/** A store whose puts of chunks fail as a full disk does, from the n-th on. */
function quotaStore(inner: KeyValueStore, after: number): KeyValueStore {
  let n = 0;
  return {
    ...inner,
    async set(key, value) {
      if (key.startsWith('chunk/') && n++ >= after) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return inner.set(key, value);
    },
  };
}

const api = {
  download: (db: string, repo: string, job: DownloadJob) =>
    outcome(async () => {
      const events: DownloadProgress[] = [];
      const base = idbStore(db);
      const store = job.quotaAfterChunks !== undefined ? quotaStore(base, job.quotaAfterChunks) : base;
      const record = await downloadModel(repo, { ...job, store, onProgress: (p) => events.push({ ...p }) });
      return { record, events };
    }),
  /** sha256 of a cached file read through ModelFiles in pieces of `piece` bytes. */
  fileSha: (db: string, repo: string, path: string, piece: number) =>
    outcome(async () => {
      const f = await (await cachedModelFiles(repo, { store: idbStore(db) })).open(path);
      const h = sha256.create();
      for (let at = 0; at < f.size; at += piece) h.update(await f.read(at, Math.min(piece, f.size - at)));
      return { size: f.size, sha256: bytesToHex(h.digest()) };
    }),
  text: (db: string, repo: string, path: string) => outcome(async () => (await cachedModelFiles(repo, { store: idbStore(db) })).text(path)),
  list: (db: string) => outcome(() => listCachedModels(idbStore(db))),
  cached: (db: string, repo: string) => outcome(() => isModelCached(repo, 'main', idbStore(db))),
  del: (db: string, repo: string) => outcome(() => deleteCachedModel(repo, 'main', idbStore(db))),
  keys: (db: string) => outcome(async () => (await idbStore(db).keys()).sort()),
  /** Streams bytes of a cached file onto the GPU in parts; returns the parts and the sha256 of what the GPU holds. */
  upload: (db: string, repo: string, path: string, begin: number, length: number, o: { maxPartBytes: number; chunkBytes: number; rowBytes: number }) =>
    outcome(async () => {
      const adapter = await navigator.gpu.requestAdapter();
      const device = await adapter!.requestDevice();
      const f = await (await cachedModelFiles(repo, { store: idbStore(db) })).open(path);
      const parts = await uploadStreamed(device, f, begin, length, { ...o, label: 'w' });
      const h = sha256.create();
      for (const p of parts) {
        const staging = device.createBuffer({ size: p.buffer.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        const enc = device.createCommandEncoder();
        enc.copyBufferToBuffer(p.buffer, 0, staging, 0, p.buffer.size);
        device.queue.submit([enc.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        h.update(new Uint8Array(staging.getMappedRange()).slice(0, p.byteLength));
        staging.destroy();
      }
      device.destroy();
      return {
        parts: parts.map((p) => ({ rows: p.rows, firstRow: p.firstRow, byteLength: p.byteLength, size: p.buffer.size })),
        sha256: bytesToHex(h.digest()),
      };
    }),
  /** Overwrites a stored chunk with `bytes` bytes (a torn write). */
  corrupt: (db: string, key: string, bytes: number) => outcome(() => idbStore(db).set(key, new Uint8Array(bytes))),
};

export type StorageApi = typeof api;
(window as unknown as { storageApi: StorageApi }).storageApi = api;
