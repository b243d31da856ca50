import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { AbortError, IntegrityError, ModelNotFoundError, NetworkError, WebLMError } from '../errors.js';
import {
  chunkCount,
  chunkLength,
  DEFAULT_CHUNK_SIZE,
  idbStore,
  modelId,
  storeKeys,
  type FileRecord,
  type KeyValueStore,
  type ModelRecord,
} from './chunkStore.js';
import { hubFetch, HUB_URL, listRepoFiles, type HubOptions, type RemoteFile } from './hub.js';
import { isQuotaError, quotaError } from './quota.js';

export interface DownloadProgress {
  /** The file this event is about. */
  file: string;
  fileBytes: number;
  fileTotal: number;
  /** Bytes of the whole model stored so far, and its total. */
  bytes: number;
  total: number;
  /** bytes / total, in [0, 1]. */
  fraction: number;
}

export interface DownloadOptions extends HubOptions {
  store?: KeyValueStore;
  /** Bytes per stored chunk (default 16 MB). */
  chunkSize?: number;
  /** Files downloaded at once (default 3). */
  concurrency?: number;
  /** Reconnections per file after a dropped connection, each resuming from the last stored chunk (default 3). */
  retries?: number;
  onProgress?: (p: DownloadProgress) => void;
}

/**
 * Downloads a repo into the chunk store once: each file streamed with Range requests into chunks of
 * `chunkSize`, resumed from the last complete chunk after a dropped connection (now or in a later call),
 * checked (size, and sha256 where the server gives one) before the model counts as cached. A cached model
 * returns at once, without the network.
 */
export async function downloadModel(repo: string, opts: DownloadOptions = {}): Promise<ModelRecord> {
  const store = opts.store ?? idbStore();
  const revision = opts.revision ?? 'main';
  const id = modelId(repo, revision);
  const cached = await store.get<ModelRecord>(storeKeys.model(id));
  if (cached?.complete) return cached;
  const files = await listRepoFiles(repo, { ...opts, revision });
  const record: ModelRecord = {
    id,
    repo,
    revision,
    baseUrl: opts.baseUrl ?? HUB_URL,
    files: files.map((f) => ({ path: f.path, size: f.size })),
    complete: false,
  };
  const total = files.reduce((a, f) => a + f.size, 0);
  const done = new Map<string, number>();
  const progress = (file: RemoteFile, fileBytes: number) => {
    done.set(file.path, fileBytes);
    const bytes = [...done.values()].reduce((a, b) => a + b, 0);
    opts.onProgress?.({ file: file.path, fileBytes, fileTotal: file.size, bytes, total, fraction: total ? bytes / total : 1 });
  };
  try {
    await store.set(storeKeys.model(id), record);
    const queue = [...files];
    // After a file fails the workers take no new file, and the call ends once the files in flight have settled:
    // nothing of this download is written after it returns (the cleanup below would miss it).
    const failures: unknown[] = [];
    const worker = async () => {
      for (let f = queue.shift(); f && !failures.length; f = queue.shift()) {
        await downloadFile(store, id, f, opts, (n) => progress(f!, n)).catch((e: unknown) => failures.push(e));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 3, files.length)) }, worker));
    if (failures.length) throw failures[0];
    record.complete = true;
    record.cachedAt = Date.now();
    await store.set(storeKeys.model(id), record);
    return record;
  } catch (e) {
    if (!isQuotaError(e)) throw e;
    // Free what this incomplete model holds: it cannot finish, and must not count as cached.
    const stored = [...done.values()].reduce((a, b) => a + b, 0);
    const err = await quotaError(`downloading ${id}`, total - stored, e);
    await deleteModelEntries(store, id).catch(() => undefined);
    throw err;
  }
}

/** Deletes every entry (record, file records, chunks) of a model. */
export async function deleteModelEntries(store: KeyValueStore, id: string): Promise<void> {
  await store.delMany((await store.keys()).filter((k) => storeKeys.ofModel(k, id)));
}

async function deleteFileEntries(store: KeyValueStore, id: string, path: string): Promise<void> {
  await store.delMany((await store.keys()).filter((k) => storeKeys.ofFile(k, id, path)));
}

async function downloadFile(store: KeyValueStore, id: string, f: RemoteFile, opts: DownloadOptions, onBytes: (n: number) => void): Promise<void> {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const fileKey = storeKeys.file(id, f.path);
  let rec = await store.get<FileRecord>(fileKey);
  if (rec && (rec.size !== f.size || rec.sha256 !== f.sha256 || rec.chunkSize !== chunkSize)) {
    await deleteFileEntries(store, id, f.path); // changed upstream since the interrupted download
    rec = undefined;
  }
  if (rec?.verified) return onBytes(f.size);
  rec ??= { path: f.path, size: f.size, chunkSize, chunks: 0, sha256: f.sha256, verified: false };
  const n = chunkCount(f.size, chunkSize);
  const hash = f.sha256 ? sha256.create() : undefined;
  // Resume: re-hash the chunks already stored; a missing or short one ends the usable prefix.
  for (let i = 0; i < rec.chunks; i++) {
    const c = await store.get<Uint8Array>(storeKeys.chunk(id, f.path, i));
    if (!(c instanceof Uint8Array) || c.byteLength !== chunkLength(f.size, chunkSize, i)) {
      rec.chunks = i;
      break;
    }
    hash?.update(c);
  }
  await store.set(fileKey, rec);
  onBytes(Math.min(f.size, rec.chunks * chunkSize));
  let retries = opts.retries ?? 3;
  while (rec.chunks < n) {
    try {
      await fetchChunks(store, id, f, rec, opts, hash, onBytes);
    } catch (e) {
      if (!(e instanceof NetworkError)) throw e;
      if (noRetry.has(e) || retries-- <= 0) {
        throw new NetworkError(`${e.message}; ${rec.chunks} of ${n} chunks of ${f.path} are stored, and a new download resumes from there`, { cause: e });
      }
    }
  }
  if (hash) {
    const got = bytesToHex(hash.digest());
    if (got !== f.sha256) {
      await deleteFileEntries(store, id, f.path);
      throw new IntegrityError(`${f.url}: sha256 ${got} does not match the server's ${f.sha256}; the corrupt copy was deleted, download again`);
    }
  }
  rec.verified = true;
  await store.set(fileKey, rec);
}

/** Network errors that a reconnection cannot fix (a server without Range support). */
const noRetry = new WeakSet<Error>();

/** One Range request from the first missing chunk to the end, storing each chunk as it completes. */
async function fetchChunks(
  store: KeyValueStore,
  id: string,
  f: RemoteFile,
  rec: FileRecord,
  opts: DownloadOptions,
  hash: ReturnType<typeof sha256.create> | undefined,
  onBytes: (n: number) => void,
): Promise<void> {
  const start = rec.chunks * rec.chunkSize;
  const res = await hubFetch(f.url, { headers: { Range: `bytes=${start}-${f.size - 1}` } }, opts);
  const fail = (msg: string, final = false) => {
    const e = new NetworkError(`${f.url}: ${msg}`);
    if (final) noRetry.add(e);
    return e;
  };
  if (res.status === 404) throw new ModelNotFoundError(`${f.url}: not found (HTTP 404)`);
  if (res.status === 200 && start > 0) {
    await res.body?.cancel();
    throw fail(`the server ignored a Range request (HTTP 200), so the download cannot resume at byte ${start}; use a server with Range support`, true);
  }
  if (res.status !== 200 && res.status !== 206) throw fail(`HTTP ${res.status} ${res.statusText}`);
  if (res.status === 206) {
    const from = Number(/bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1]);
    if (from !== start) {
      await res.body?.cancel();
      throw fail(`asked for bytes from ${start}, the server sent ${res.headers.get('content-range')}`, true);
    }
  }
  const reader = res.body!.getReader();
  const n = chunkCount(f.size, rec.chunkSize);
  let buf = new Uint8Array(chunkLength(f.size, rec.chunkSize, rec.chunks));
  let fill = 0;
  try {
    while (rec.chunks < n) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (cause) {
        if (opts.signal?.aborted) throw new AbortError(`${f.url}: download aborted`, { cause });
        throw fail(`the connection dropped at byte ${rec.chunks * rec.chunkSize + fill} of ${f.size} (${(cause as Error).message})`);
      }
      if (r.done) throw fail(`the response ended at byte ${rec.chunks * rec.chunkSize + fill} of ${f.size}`);
      let v = r.value;
      while (v.byteLength > 0 && rec.chunks < n) {
        const take = Math.min(v.byteLength, buf.byteLength - fill);
        buf.set(v.subarray(0, take), fill);
        fill += take;
        v = v.subarray(take);
        if (fill === buf.byteLength) {
          await store.set(storeKeys.chunk(id, f.path, rec.chunks), buf);
          hash?.update(buf);
          rec.chunks++;
          await store.set(storeKeys.file(id, f.path), rec);
          onBytes(Math.min(f.size, rec.chunks * rec.chunkSize));
          if (rec.chunks < n) buf = new Uint8Array(chunkLength(f.size, rec.chunkSize, rec.chunks));
          fill = 0;
        }
      }
    }
  } catch (e) {
    if (e instanceof WebLMError || isQuotaError(e)) throw e;
    throw fail(`storing the download failed (${(e as Error).message})`);
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
