// weblm, page side.
import { WorkerEngine } from './worker/workerEngine.js';
import type { Engine } from './engine/types.js';

export * from './errors.js';
export type { DType, Tensor } from './gpu/tensor.js';
export { createBrowserGpu } from './browser/gpu.js';
export { localFiles, pickedFolder, type LocalFile } from './browser/localFiles.js';
export {
  deleteCachedModel,
  downloadModel,
  isModelCached,
  listCachedModels,
  requestPersistentStorage,
  storageEstimate,
  type CachedModel,
  type DownloadOptions,
  type DownloadProgress,
} from './storage/index.js';
export type * from './engine/types.js';
export type * from './engine/openaiTypes.js';
export type { ChatMessage } from './tokenizer/chatTemplate.js';
export type { ModelFiles, ByteSource } from './weights/files.js';

export interface CreateEngineOptions {
  /** A worker running the `weblm/worker` entry; by default one is started from this package. */
  readonly worker?: Worker;
}

/**
 * An engine running in a Web Worker: load a model, stream `generate`, or call the OpenAI-style
 * `engine.chat.completions.create`. Errors keep their class across the worker (`instanceof` works).
 */
export function createEngine(options: CreateEngineOptions = {}): Engine {
  const worker = options.worker ?? new Worker(new URL('./worker/index.js', import.meta.url), { type: 'module', name: 'weblm' });
  return new WorkerEngine(worker);
}

export { WorkerEngine };
