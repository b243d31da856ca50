import { AbortError, GpuOutOfMemoryError, InvalidArgumentError, InvalidModelError, WebLMError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { decodeImageBrowser, type ImageBytesDecoder, type ImageFileReader } from '../image/decode.js';
import type { ClipPreprocessConfig, RgbaImage } from '../image/preprocess.js';
import { buildAnyModel } from '../models/build.js';
import type { ModelConfig, RawConfig } from '../models/config.js';
import { estimateModelMemory, type MemoryEstimate } from '../models/fit.js';
import type { Idefics3PreprocessConfig } from '../image/idefics3.js';
import { Idefics3Model } from '../models/idefics3.js';
import type { Qwen2VLPreprocessConfig } from '../image/qwen2vl.js';
import { Qwen2VLModel } from '../models/qwen2vl.js';
import { LlavaModel } from '../models/llava.js';
import type { LoadedModel } from '../models/types.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { ModelFiles } from '../weights/files.js';
import type { WeightSource } from '../weights/source.js';
import type { CacheSnapshot } from './cacheSnapshot.js';
import { exportSnapshot, importSnapshot } from './cacheSnapshotSession.js';
import { checkFit } from './fit.js';
import { chatPlan, completion, completionChunks } from './chatCompletions.js';
import { generateTokens, type GenerationSession } from './generate.js';
import { KvPrefix } from './kvPrefix.js';
import { openModelSource } from './modelSource.js';
import { Mutex } from './mutex.js';
import { openModel } from './openModel.js';
import {
  decodeImages,
  expandIdefics3Tokens,
  expandImageTokens,
  idefics3Images,
  idefics3Layouts,
  idefics3PreprocessFor,
  expandQwen2VLTokens,
  qwen2vlGrids,
  qwen2vlImages,
  qwen2vlPreprocessFor,
  preprocessConfigFor,
  preprocessImages,
  splitContentParts,
} from './promptImages.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from './openaiTypes.js';
import { Sampler } from './sampler.js';
import type { ChatCompletions, Engine, EngineInfo, GenerateChunk, GenerateInput, GenerateOptions, LoadOptions, ModelSource } from './types.js';

export interface LocalEngineOptions {
  /** Creates the GPU context on the first load (createBrowserGpu in a worker, createNodeGpu in Node). */
  readonly gpu: () => Promise<GpuContext>;
  /** Opens a model given as a string (a URL, a path, a repo id). Default: a base URL over HTTP. */
  readonly openFiles?: (source: string, signal?: AbortSignal) => Promise<ModelFiles>;
  /** Decodes image bytes of a prompt (PNG / JPEG ...). Default: the browser's (createImageBitmap); Node passes pngjs + jpeg-js. */
  readonly decodeImage?: ImageBytesDecoder;
  /** Reads an image given as a file path or file: URL (Node); without it such strings are URLs relative to the page. */
  readonly readImageFile?: ImageFileReader;
}

/** Template variables and tools for a chat prompt. */
interface ChatPromptOptions {
  readonly tools?: readonly unknown[];
  readonly chatTemplateKwargs?: Readonly<Record<string, unknown>>;
}

interface Loaded extends GenerationSession {
  readonly source: string;
  /** The image processor of a vision model. */
  readonly preprocess?: ClipPreprocessConfig;
  /** Idefics3's image processor (tiles). */
  readonly idefics3?: Idefics3PreprocessConfig;
  /** Qwen2-VL's image processor (smart_resize, patches). */
  readonly qwen2vl?: Qwen2VLPreprocessConfig;
}

/** A prompt as token ids, its text (when rendered), and its images in order, decoded (vision models). */
interface Prompt {
  readonly ids: number[];
  readonly text: string;
  readonly images: readonly RgbaImage[];
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
      const { location, model, tokenizer, preprocessor } = await this.build(files, gguf, options).finally(() => files.close?.());
      try {
        this.loaded = session(location, model, tokenizer, preprocessor);
        model.ctx.readPacer?.reset(); // another model's step times
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

  /** Opens the model among `files` and builds it on the GPU (within its memory estimate). */
  private async build(files: ModelFiles, gguf: string | undefined, options: LoadOptions) {
    const signal = options.signal;
    const { location, config, weights, tokenizer, preprocessor } = await openModel(files, gguf);
    if (signal?.aborted) throw new AbortError(`loading ${location} was aborted`);
    const ctx = await this.context();
    const report = options.onProgress;
    const loadOpts = {
      dtype: options.dtype,
      maxContext: options.maxContext,
      onProgress: report ? (loaded: number, total: number) => report({ loaded, total }) : undefined,
      signal,
    };
    const estimate = fitOrThrow(ctx, config, weights, options);
    const model = await buildWithinMemory(ctx, estimate.totalBytes, () => buildAnyModel(ctx, config, weights, loadOpts));
    try {
      await model.prepareDecode?.();
    } catch (err) {
      model.dispose();
      throw err;
    }
    return { location, model, tokenizer, preprocessor };
  }

  /** The GPU context, a new one when the last was lost (a load after a device loss needs no page reload). */
  private async context(): Promise<GpuContext> {
    const old = this.ctx && (await this.ctx.catch(() => undefined));
    if (!old || old.failed) {
      this.ctx = undefined;
      old?.destroy();
    }
    return (this.ctx ??= this.options.gpu());
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

  async exportCache(): Promise<CacheSnapshot> {
    const release = await this.mutex.acquire();
    try {
      const s = this.session();
      return await exportSnapshot(s.source, s);
    } finally {
      release();
    }
  }

  async importCache(snapshot: CacheSnapshot): Promise<void> {
    const release = await this.mutex.acquire();
    try {
      const s = this.session();
      importSnapshot(s.source, s, snapshot);
    } finally {
      release();
    }
  }

  generate(input: GenerateInput, options: GenerateOptions & ChatPromptOptions = {}): AsyncIterableIterator<GenerateChunk> {
    return this.run(async (s) => this.withImages(s, await this.prompt(s, input, options, options.signal)), options);
  }

  private async createChatCompletion(req: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const s = this.session();
    const plan = chatPlan(req, s.tokenizer?.chatTemplate?.source);
    const p = await this.prompt(s, plan.messages, { tools: plan.tools, chatTemplateKwargs: req.chat_template_kwargs }, req.signal);
    const text = p.text;
    // DeepSeek-R1's template ends the prompt with '<think>\n': the reply starts inside the thinking (unless a grammar shapes it).
    const meta = { model: s.source, startsInThinking: !plan.options.constraint && /<think>\s*$/.test(text), tools: plan.toolFormat };
    const chunks = this.run(async (now) => this.withImages(now, p), plan.options);
    if (req.stream) return completionChunks(chunks, meta, req.stream_options?.include_usage === true);
    return completion(chunks, meta);
  }

  /** Runs one generation at a time (in call order); the lock is released when the iterator ends. */
  private async *run(promptIds: (s: Loaded) => Promise<readonly number[]>, options: GenerateOptions): AsyncGenerator<GenerateChunk, void, undefined> {
    const release = await this.mutex.acquire();
    try {
      const s = this.session();
      yield* generateTokens(s, await promptIds(s), options);
    } finally {
      release();
    }
  }

  /**
   * Preprocesses the prompt's images (large ones resized on the GPU) and tells a vision model which image
   * each image token shows: inside the lock, so GPU work of another generation is not interleaved.
   */
  private async withImages(s: Loaded, p: Prompt): Promise<readonly number[]> {
    if (s.model instanceof LlavaModel) s.model.setImages(p.ids, await preprocessImages(p.images, s.preprocess!, s.model.ctx));
    if (s.model instanceof Idefics3Model) s.model.setImages(p.ids, await idefics3Images(p.images, s.idefics3!, s.model.ctx));
    if (s.model instanceof Qwen2VLModel) s.model.setImages(p.ids, await qwen2vlImages(p.images, s.qwen2vl!, s.model.ctx));
    return p.ids;
  }

  private async prompt(s: Loaded, input: GenerateInput, opts: ChatPromptOptions, signal?: AbortSignal): Promise<Prompt> {
    const vision = s.model instanceof LlavaModel ? s.model.vis : undefined;
    const idefics3 = s.model instanceof Idefics3Model ? s.model.vis : undefined;
    const qwen2vl = s.model instanceof Qwen2VLModel ? s.model.vis : undefined;
    const images = async (sources: Parameters<typeof decodeImages>[0]) => {
      if (sources.length && !vision && !idefics3 && !qwen2vl) throw new InvalidArgumentError(`${s.source} has no vision encoder: its prompts take no images`);
      return vision || idefics3 || qwen2vl ? decodeImages(sources, this.options.decodeImage ?? decodeImageBrowser, signal, this.options.readImageFile) : [];
    };
    const tok = s.tokenizer;
    const expand = (ids: readonly number[], ims: readonly RgbaImage[], text: string): Prompt => {
      if (qwen2vl) return { ids: expandQwen2VLTokens(ids, qwen2vlGrids(ims, s.qwen2vl!), qwen2vl), text, images: ims };
      if (idefics3) return { ids: expandIdefics3Tokens(ids, idefics3Layouts(ims, s.idefics3!), idefics3, tok && ((t) => tok.encode(t))), text, images: ims };
      return { ids: vision ? expandImageTokens(ids, vision.imageTokenId, vision.tokensPerImage, ims.length) : Array.from(ids), text, images: ims };
    };
    if (typeof input === 'object' && input !== null && 'ids' in input) return expand(input.ids, await images(input.images ?? []), '');
    if (!tok) throw new InvalidArgumentError(`${s.source} has no tokenizer.json: pass token ids ({ ids })`);
    if (typeof input === 'string') return expand(tok.encodePrompt(input, s.model.info.bosTokenId), [], input);
    if (!Array.isArray(input)) throw new InvalidArgumentError('the prompt must be a string, an array of chat messages or { ids }');
    if (!tok.chatTemplate) throw new InvalidArgumentError(`${s.source} has no chat template: pass a string prompt`);
    const split = splitContentParts(input, !!vision || !!idefics3 || !!qwen2vl, s.source);
    const text = tok.chatTemplate.render(split.messages, { addGenerationPrompt: true, tools: opts.tools, extra: opts.chatTemplateKwargs });
    return expand(tok.encode(text), await images(split.images), text);
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
      ...(s.model instanceof LlavaModel
        ? {
            vision: {
              imageSize: s.model.vis.imageSize,
              tokensPerImage: s.model.vis.tokensPerImage,
              imageTokenId: s.model.vis.imageTokenId,
              imagesEncoded: s.model.imagesEncoded,
            },
          }
        : {}),
      ...(s.model instanceof Qwen2VLModel
        ? {
            vision: {
              imageSize: 0,
              tokensPerImage: 0,
              imageTokenId: s.model.vis.imageTokenId,
              imagesEncoded: s.model.imagesEncoded,
              variable: true,
            },
          }
        : {}),
      ...(s.model instanceof Idefics3Model
        ? {
            vision: {
              imageSize: s.model.vis.imageSize,
              tokensPerImage: s.model.vis.tokensPerTile,
              imageTokenId: s.model.vis.imageTokenId,
              imagesEncoded: s.model.imagesEncoded,
              tiled: true,
            },
          }
        : {}),
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

/** Refuses a load whose estimated GPU memory passes the adapter's limits or `memoryBudget` (GpuOutOfMemoryError with a hint). */
function fitOrThrow(ctx: GpuContext, config: ModelConfig, weights: WeightSource, options: LoadOptions): MemoryEstimate {
  const budget = options.memoryBudget;
  if (budget !== undefined && !(Number.isFinite(budget) && budget > 0))
    throw new InvalidArgumentError(`memoryBudget must be a positive number of bytes, got ${budget}`);
  const maxContext = options.maxContext ?? Math.min(config.maxPositionEmbeddings, 4096);
  const limits = { maxBufferSize: ctx.limits.maxBufferSize, maxStorageBufferBindingSize: ctx.limits.maxStorageBufferBindingSize, budgetBytes: budget };
  return checkFit({ dtype: options.dtype ?? 'auto', maxContext }, limits, (c) => estimateModelMemory(config, weights, c));
}

/**
 * Runs a model build inside an allocation scope: a real out-of-memory (or a validation error) while it
 * allocates and uploads frees what the build made and is thrown as GpuOutOfMemoryError (ShaderError), with the
 * estimate as `neededBytes` (WebGPU does not say how much was free).
 */
async function buildWithinMemory(ctx: GpuContext, neededBytes: number, build: () => Promise<LoadedModel>): Promise<LoadedModel> {
  ctx.beginAllocationScope();
  const built = await build().then(
    (model) => ({ model }),
    (err: unknown) => ({ err }),
  );
  const failure = await ctx.endAllocationScope().catch((e: unknown) => (e instanceof WebLMError ? e : undefined));
  if (failure) {
    if ('model' in built) built.model.dispose();
    if (!(failure instanceof GpuOutOfMemoryError)) throw failure;
    throw new GpuOutOfMemoryError(`${failure.message}; what the load had allocated was freed`, {
      neededBytes,
      hint: 'load a smaller dtype or context (dtype, maxContext)',
      cause: failure,
    });
  }
  if ('err' in built) throw built.err;
  return built.model;
}

function session(source: string, model: LoadedModel, tokenizer: TextTokenizer | undefined, preprocessor?: RawConfig): Loaded {
  const vocab = model.info.vocabSize;
  if (tokenizer && tokenizer.vocabSize > vocab) {
    throw new InvalidModelError(`${source}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary only ${vocab}`);
  }
  const eosIds = new Set(model.info.eosTokenIds);
  const eos = tokenizer?.eosToken !== undefined ? tokenizer.tokenToId(tokenizer.eosToken) : undefined;
  if (eos !== undefined) eosIds.add(eos);
  const preprocess = model instanceof LlavaModel ? preprocessConfigFor(preprocessor, model.vis, source) : undefined;
  const idefics3 = model instanceof Idefics3Model ? idefics3PreprocessFor(preprocessor, model.vis, source) : undefined;
  const qwen2vl = model instanceof Qwen2VLModel ? qwen2vlPreprocessFor(preprocessor, model.vis, source) : undefined;
  return { source, model, tokenizer, sampler: new Sampler(model.ctx, vocab), kv: new KvPrefix(), eosIds, preprocess, idefics3, qwen2vl };
}
