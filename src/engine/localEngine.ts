import { AbortError, InvalidArgumentError, InvalidModelError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { buildModel } from '../models/load.js';
import type { LoadedModel } from '../models/types.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { ModelFiles } from '../weights/files.js';
import { completion, completionChunks, requestOptions } from './chatCompletions.js';
import { generateTokens, type GenerationSession } from './generate.js';
import { KvPrefix } from './kvPrefix.js';
import { openModelSource } from './modelSource.js';
import { Mutex } from './mutex.js';
import { openModel } from './openModel.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from './openaiTypes.js';
import { Sampler } from './sampler.js';
import type {
  ChatCompletions,
  Engine,
  EngineInfo,
  GenerateChunk,
  GenerateInput,
  GenerateOptions,
  LoadOptions,
  ModelSource,
} from './types.js';

export interface LocalEngineOptions {
  /** Creates the GPU context on the first load (createBrowserGpu in a worker, createNodeGpu in Node). */
  readonly gpu: () => Promise<GpuContext>;
  /** Opens a model given as a string (a URL, a path, a repo id). Default: a base URL over HTTP. */
  readonly openFiles?: (source: string, signal?: AbortSignal) => Promise<ModelFiles>;
}

/** Template variables and tools for a chat prompt. */
interface ChatPromptOptions {
  readonly tools?: readonly unknown[];
  readonly chatTemplateKwargs?: Readonly<Record<string, unknown>>;
}

interface Loaded extends GenerationSession {
  readonly source: string;
}

/** The engine in this thread: in Node, in tests, and inside the worker behind `createEngine()`. */
export class LocalEngine implements Engine {
  private ctx: Promise<GpuContext> | undefined;
  private loaded: Loaded | undefined;
  private readonly mutex = new Mutex();
  readonly chat: { readonly completions: ChatCompletions };

  constructor(private readonly options: LocalEngineOptions) {
    const create = (req: ChatCompletionRequest) => this.createChatCompletion(req);
    this.chat = { completions: { create: create as ChatCompletions['create'] } };
  }

  async load(source: ModelSource, options: LoadOptions = {}): Promise<EngineInfo> {
    const release = await this.mutex.acquire();
    try {
      this.unloadNow();
      const signal = options.signal;
      if (signal?.aborted) throw new AbortError('the load was aborted before it started');
      const { files, gguf } = await openModelSource(source, this.options.openFiles, signal);
      const { location, config, weights, tokenizer } = await openModel(files, gguf);
      if (signal?.aborted) throw new AbortError(`loading ${location} was aborted`);
      const ctx = await (this.ctx ??= this.options.gpu());
      const report = options.onProgress;
      const model = await buildModel(ctx, config, weights, {
        dtype: options.dtype,
        maxContext: options.maxContext,
        onProgress: report ? (loaded, total) => report({ loaded, total }) : undefined,
        signal,
      });
      try {
        this.loaded = session(location, model, tokenizer);
      } catch (err) {
        model.dispose();
        throw err;
      }
      return this.infoNow()!;
    } catch (err) {
      // A fetch cut by the signal fails as a network error: report it as the abort it is.
      if (options.signal?.aborted && !(err instanceof AbortError)) throw new AbortError('the load was aborted', { cause: err });
      throw err;
    } finally {
      release();
    }
  }

  async unload(): Promise<void> {
    const release = await this.mutex.acquire();
    try {
      this.unloadNow();
    } finally {
      release();
    }
  }

  async info(): Promise<EngineInfo | undefined> {
    return this.infoNow();
  }

  async dispose(): Promise<void> {
    await this.unload();
    const ctx = this.ctx;
    this.ctx = undefined;
    if (ctx) (await ctx).destroy();
  }

  generate(input: GenerateInput, options: GenerateOptions & ChatPromptOptions = {}): AsyncIterableIterator<GenerateChunk> {
    return this.run(async (s) => this.prompt(s, input, options).ids, options);
  }

  private async createChatCompletion(req: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const opts = requestOptions(req);
    const s = this.session();
    const { ids, text } = this.prompt(s, req.messages, { tools: req.tools, chatTemplateKwargs: req.chat_template_kwargs });
    // DeepSeek-R1's template ends the prompt with '<think>\n': the reply starts inside the thinking.
    const meta = { model: s.source, startsInThinking: /<think>\s*$/.test(text) };
    const chunks = this.run(async () => ids, opts);
    if (req.stream) return completionChunks(chunks, meta, req.stream_options?.include_usage === true);
    return completion(chunks, meta);
  }

  /** Runs one generation at a time (in call order); the lock is released when the iterator ends. */
  private async *run(
    promptIds: (s: Loaded) => Promise<readonly number[]>,
    options: GenerateOptions,
  ): AsyncGenerator<GenerateChunk, void, undefined> {
    const release = await this.mutex.acquire();
    try {
      const s = this.session();
      yield* generateTokens(s, await promptIds(s), options);
    } finally {
      release();
    }
  }

  private prompt(s: Loaded, input: GenerateInput, opts: ChatPromptOptions): { ids: number[]; text: string } {
    if (typeof input === 'object' && input !== null && 'ids' in input) return { ids: Array.from(input.ids), text: '' };
    const tok = s.tokenizer;
    if (!tok) throw new InvalidArgumentError(`${s.source} has no tokenizer.json: pass token ids ({ ids })`);
    if (typeof input === 'string') return { ids: tok.encodePrompt(input, s.model.info.bosTokenId), text: input };
    if (!Array.isArray(input)) throw new InvalidArgumentError('the prompt must be a string, an array of chat messages or { ids }');
    if (!tok.chatTemplate) throw new InvalidArgumentError(`${s.source} has no chat template: pass a string prompt`);
    const text = tok.chatTemplate.render(input, { addGenerationPrompt: true, tools: opts.tools, extra: opts.chatTemplateKwargs });
    return { ids: tok.encode(text), text };
  }

  private session(): Loaded {
    if (!this.loaded) throw new InvalidArgumentError('no model is loaded: call engine.load() first');
    return this.loaded;
  }

  private infoNow(): EngineInfo | undefined {
    const s = this.loaded;
    if (!s) return undefined;
    const { info, ctx } = s.model;
    return {
      model: s.source,
      modelType: info.modelType,
      dtype: info.weightDType,
      contextLength: info.maxContext,
      vocabSize: info.vocabSize,
      weightBytes: info.weightBytes,
      memoryBytes: info.gpuBytes,
      adapter: { ...ctx.adapterInfo },
      hasTokenizer: !!s.tokenizer,
      hasChatTemplate: !!s.tokenizer?.chatTemplate,
      cachedTokens: s.kv.length,
    };
  }

  private unloadNow(): void {
    const s = this.loaded;
    this.loaded = undefined;
    if (!s) return;
    s.sampler.dispose();
    s.model.dispose();
  }
}

function session(source: string, model: LoadedModel, tokenizer: TextTokenizer | undefined): Loaded {
  const vocab = model.info.vocabSize;
  if (tokenizer && tokenizer.vocabSize > vocab) {
    throw new InvalidModelError(`${source}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary only ${vocab}`);
  }
  const eosIds = new Set(model.info.eosTokenIds);
  const eos = tokenizer?.eosToken !== undefined ? tokenizer.tokenToId(tokenizer.eosToken) : undefined;
  if (eos !== undefined) eosIds.add(eos);
  return { source, model, tokenizer, sampler: new Sampler(model.ctx, vocab), kv: new KvPrefix(), eosIds };
}
