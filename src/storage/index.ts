// Model storage in the browser: download (Range, resume, progress, integrity) into an IndexedDB chunk
// store, ModelFiles over cached files, and cache management.
export { DEFAULT_CHUNK_SIZE, idbStore, modelId, type FileRecord, type KeyValueStore, type ModelRecord } from './chunkStore.js';
export { headFile, listRepoFiles, resolveUrl, HUB_URL, type HubOptions, type RemoteFile } from './hub.js';
export { downloadModel, type DownloadOptions, type DownloadProgress } from './download.js';
export { cachedModelFiles } from './cachedFiles.js';
export { deleteCachedModel, isModelCached, listCachedModels, type CachedModel } from './cache.js';
export { isQuotaError, requestPersistentStorage, storageEstimate } from './quota.js';
export { uploadStreamed, type StreamUploadOptions, type UploadedPart } from './gpuUpload.js';
