import { proxy, releaseProxy, transfer, wrap, type Endpoint, type Remote } from 'comlink';
import { snapshotBuffers, type CacheSnapshot } from '../engine/cacheSnapshot.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../engine/openaiTypes.js';
import type { ChatCompletions, Engine, EngineInfo, GenerateChunk, GenerateInput, GenerateOptions, LoadOptions, ModelSource } from '../engine/types.js';
import { cloneableInput, cloneableMessages } from './cloneImages.js';
import { installErrorTransfer } from './errorTransfer.js';
import type { WorkerApi } from './protocol.js';

/**
 * The page side of an engine in a Web Worker: the same Engine interface, every call forwarded through
 * comlink. Streams are pulled one chunk per call; an AbortSignal is forwarded as a separate `abort` call,
 * which the worker sees between two tokens.
 */
export class WorkerEngine implements Engine {
  private readonly remote: Remote<WorkerApi>;
  private nextId = 1;
  readonly chat: { readonly completions: ChatCompletions };

  constructor(private readonly endpoint: Endpoint & { terminate?: () => void }) {
    installErrorTransfer();
    this.remote = wrap<WorkerApi>(endpoint);
    const create = (req: ChatCompletionRequest) => this.createChatCompletion(req);
    this.chat = { completions: { create: create as ChatCompletions['create'] } };
  }

  async load(source: ModelSource, options: LoadOptions = {}): Promise<EngineInfo> {
    const { signal, onProgress, ...rest } = options;
    const opId = this.nextId++;
    const loading = this.remote.load(opId, source, rest, onProgress ? proxy(onProgress) : undefined);
    const stop = this.forwardAbort(opId, signal); // after the load call: the worker sees them in this order
    try {
      return await loading;
    } finally {
      stop();
    }
  }

  unload(): Promise<void> {
    return this.remote.unload();
  }

  info(): Promise<EngineInfo | undefined> {
    return this.remote.info();
  }

  generate(input: GenerateInput, options: GenerateOptions = {}): AsyncIterableIterator<GenerateChunk> {
    const { signal, ...rest } = options;
    const opId = this.nextId++;
    // Images the page holds as elements or canvases cross as ImageBitmaps (Blobs cross as they are).
    const started = cloneableInput(input).then((x) => this.remote.generate(opId, x, rest));
    return this.pull<GenerateChunk>(opId, started, signal);
  }

  exportCache(): Promise<CacheSnapshot> {
    return this.remote.exportCache();
  }

  /** Transfers the snapshot's buffers to the worker: they are detached (empty) here afterwards. */
  importCache(snapshot: CacheSnapshot): Promise<void> {
    return this.remote.importCache(transfer(snapshot, snapshotBuffers(snapshot)));
  }

  async dispose(): Promise<void> {
    try {
      await this.remote.dispose();
    } finally {
      this.remote[releaseProxy]();
      this.endpoint.terminate?.();
    }
  }

  private async createChatCompletion(req: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const { signal, ...fields } = req;
    const rest = { ...fields, messages: await cloneableMessages(fields.messages) };
    const opId = this.nextId++;
    if (rest.stream) {
      const started = this.remote.chat(opId, rest);
      await started;
      return this.pull<ChatCompletionChunk>(opId, started, signal);
    }
    const completing = this.remote.chat(opId, rest);
    const stop = this.forwardAbort(opId, signal);
    try {
      return (await completing) as ChatCompletion;
    } finally {
      stop();
    }
  }

  /** An async iterator over the worker's stream `opId`, pulled one chunk per `next()`. */
  private pull<T>(opId: number, started: Promise<unknown>, signal: AbortSignal | undefined): AsyncIterableIterator<T> {
    const remote = this.remote;
    let finished = false;
    const stop = this.forwardAbort(opId, signal);
    const end = () => {
      finished = true;
      stop();
    };
    const it: AsyncIterableIterator<T> = {
      async next() {
        if (finished) return { done: true, value: undefined };
        try {
          await started;
          const r = (await remote.next(opId)) as IteratorResult<T, undefined>;
          if (r.done) end();
          return r;
        } catch (err) {
          end();
          throw err;
        }
      },
      async return() {
        if (!finished) {
          end();
          await started.catch(() => undefined);
          await remote.close(opId);
        }
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }

  /** Forwards `signal`'s abort to the worker's operation `opId`; returns the function that stops forwarding. */
  private forwardAbort(opId: number, signal: AbortSignal | undefined): () => void {
    if (!signal) return () => undefined;
    const onAbort = () => void this.remote.abort(opId);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  }
}
