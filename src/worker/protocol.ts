import type { CacheSnapshot } from '../engine/cacheSnapshot.js';
import type { ChatCompletion, ChatCompletionRequest } from '../engine/openaiTypes.js';
import type { EngineInfo, GenerateChunk, GenerateInput, GenerateOptions, LoadOptions, ModelSource } from '../engine/types.js';

/** Options as they cross the boundary: no AbortSignal (aborts go through `abort(opId)`). */
export type RemoteLoadOptions = Omit<LoadOptions, 'signal' | 'onProgress'>;
export type RemoteGenerateOptions = Omit<GenerateOptions, 'signal'>;
export type RemoteChatRequest = Omit<ChatCompletionRequest, 'signal'>;

/**
 * What the worker exposes through comlink. Every operation carries an id chosen by the page: `abort(id)`
 * aborts it, and a stream (generate, streamed chat) is pulled chunk by chunk with `next(id)`.
 */
export interface WorkerApi {
  /** `onProgress` is a comlink proxy: comlink proxies top-level arguments only. */
  load(opId: number, source: ModelSource, options: RemoteLoadOptions, onProgress?: LoadOptions['onProgress']): Promise<EngineInfo>;
  unload(): Promise<void>;
  info(): Promise<EngineInfo | undefined>;
  generate(opId: number, input: GenerateInput, options: RemoteGenerateOptions): Promise<void>;
  /** A non-streamed request returns the completion; a streamed one returns 'stream' and is pulled with next(). */
  chat(opId: number, request: RemoteChatRequest): Promise<ChatCompletion | 'stream'>;
  next(opId: number): Promise<IteratorResult<unknown, undefined>>;
  /** Ends a stream early (the page broke out of its loop). */
  close(opId: number): Promise<void>;
  abort(opId: number): void;
  /** The snapshot's ArrayBuffers are transferred (comlink.transfer), not copied, both ways. */
  exportCache(): Promise<CacheSnapshot>;
  importCache(snapshot: CacheSnapshot): Promise<void>;
  dispose(): Promise<void>;
}

export type { GenerateChunk };
