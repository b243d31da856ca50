import { idbStore, modelId, storeKeys, type KeyValueStore, type ModelRecord } from './chunkStore.js';
import { deleteModelEntries } from './download.js';

export interface CachedModel {
  id: string;
  repo: string;
  revision: string;
  /** Bytes of all its files. */
  bytes: number;
  files: readonly { path: string; size: number }[];
  cachedAt?: number;
}

/** Models stored completely (verified); partial downloads are not listed. */
export async function listCachedModels(store: KeyValueStore = idbStore()): Promise<CachedModel[]> {
  const out: CachedModel[] = [];
  for (const k of (await store.keys()).filter(storeKeys.isModel)) {
    const m = await store.get<ModelRecord>(k);
    if (!m?.complete) continue;
    out.push({ id: m.id, repo: m.repo, revision: m.revision, bytes: m.files.reduce((a, f) => a + f.size, 0), files: m.files, cachedAt: m.cachedAt });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** Whether a model is stored completely. */
export async function isModelCached(repo: string, revision = 'main', store: KeyValueStore = idbStore()): Promise<boolean> {
  return (await store.get<ModelRecord>(storeKeys.model(modelId(repo, revision))))?.complete === true;
}

/** Deletes a model (complete or partial) and every chunk of it. */
export async function deleteCachedModel(repo: string, revision = 'main', store: KeyValueStore = idbStore()): Promise<void> {
  await deleteModelEntries(store, modelId(repo, revision));
}
