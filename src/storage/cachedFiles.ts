import { IntegrityError, InvalidModelError, ModelNotFoundError } from '../errors.js';
import type { ByteSource, ModelFiles } from '../weights/files.js';
import { chunkLength, idbStore, modelId, storeKeys, type FileRecord, type KeyValueStore, type ModelRecord } from './chunkStore.js';

/**
 * A cached model's files, read from the chunk store: a range read fetches only the chunks it spans
 * (the last two are kept), so loading a model holds a few chunks in memory, not a file.
 */
export async function cachedModelFiles(repo: string, opts: { revision?: string; store?: KeyValueStore } = {}): Promise<ModelFiles> {
  const store = opts.store ?? idbStore();
  const id = modelId(repo, opts.revision ?? 'main');
  const model = await store.get<ModelRecord>(storeKeys.model(id));
  if (!model?.complete) throw new ModelNotFoundError(`${id} is not in the browser cache (download it first)`);
  const paths = new Set(model.files.map((f) => f.path));
  const record = async (path: string) => {
    const rec = paths.has(path) ? await store.get<FileRecord>(storeKeys.file(id, path)) : undefined;
    if (!rec) throw new ModelNotFoundError(`${id}/${path}: no such file in the cached model`);
    if (!rec.verified) throw new IntegrityError(`${id}/${path}: the cached copy is incomplete; delete the model and download it again`);
    return rec;
  };
  const open = async (path: string): Promise<ByteSource> => {
    const rec = await record(path);
    const recent = new Map<number, Uint8Array>();
    const chunk = async (i: number): Promise<Uint8Array> => {
      const hit = recent.get(i);
      if (hit) return hit;
      const c = await store.get<Uint8Array>(storeKeys.chunk(id, path, i));
      const want = chunkLength(rec.size, rec.chunkSize, i);
      if (!(c instanceof Uint8Array) || c.byteLength !== want) {
        throw new IntegrityError(
          `${id}/${path}: chunk ${i} is ${c ? `corrupt (${c instanceof Uint8Array ? c.byteLength : typeof c} instead of ${want} bytes)` : 'missing'} in the browser cache; delete the model and download it again`,
        );
      }
      recent.set(i, c);
      if (recent.size > 2) recent.delete(recent.keys().next().value!);
      return c;
    };
    return {
      size: rec.size,
      async read(offset, length) {
        if (offset < 0 || length < 0 || offset + length > rec.size) {
          throw new InvalidModelError(`${id}/${path}: bytes ${offset}..${offset + length} pass the end of the file (${rec.size} bytes)`);
        }
        const out = new Uint8Array(length);
        let at = 0;
        while (at < length) {
          const pos = offset + at;
          const i = Math.floor(pos / rec.chunkSize);
          const c = await chunk(i);
          const from = pos - i * rec.chunkSize;
          const n = Math.min(length - at, c.byteLength - from);
          out.set(c.subarray(from, from + n), at);
          at += n;
        }
        return out;
      },
    };
  };
  return {
    location: id,
    has: async (path) => paths.has(path) && (await store.get<FileRecord>(storeKeys.file(id, path)))?.verified === true,
    open,
    async text(path) {
      const f = await open(path);
      return new TextDecoder().decode(await f.read(0, f.size));
    },
  };
}
