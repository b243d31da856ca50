import type { LoadDType } from '../models/types.js';
import type { ChatMessage } from '../tokenizer/chatTemplate.js';
import type { ImageSource } from '../tokenizer/contentParts.js';
import type { LocalFile } from '../browser/localFiles.js';
import type { ModelFiles } from '../weights/files.js';
import type { ChatCompletionChunk, ChatCompletion, ChatCompletionRequest } from './openaiTypes.js';
import type { CacheSnapshot } from './cacheSnapshot.js';
import type { GenerationStats } from './stats.js';
import type { ResponseFormat } from './grammar.js';

export type { CacheSnapshot, GenerationStats };
export type { CacheLayerSnapshot } from './cacheSnapshot.js';

export type { ChatMessage, ResponseFormat };
export type { ContentPart, ImagePart, ImageSource, ImageUrlPart, TextPart } from '../tokenizer/contentParts.js';

/**
 * Where a model comes from: a base URL or a repo id (a string), `{ url }` (a folder served over HTTP in
 * the Hugging Face repo layout, or a .gguf file's URL), `{ files }` (any ModelFiles: a local folder in
 * Node, say; not across a worker; `gguf` names the .gguf file to load among them), or `{ blobs }` (files
 * held by the browser, e.g. a folder picked by the user: Blobs cross the worker boundary; see
 * `pickedFolder`). A string or URL ending in `.gguf` loads that file; files that can be listed and hold
 * one .gguf and no config.json load the .gguf.
 */
export type ModelSource =
  string | { readonly url: string } | { readonly files: ModelFiles; readonly gguf?: string } | { readonly blobs: readonly LocalFile[]; readonly name?: string };

/** Progress of a load: bytes of weights on the GPU so far, of all. */
export interface LoadProgress {
  readonly loaded: number;
  readonly total: number;
}

export interface LoadOptions {
  readonly dtype?: LoadDType;
  /** Longest prompt + generation the KV cache is sized for (default: the model's, capped by the loader). */
  readonly maxContext?: number;
  /**
   * Bytes of GPU memory the model may take (weights + KV cache + activations, as estimated before anything is
   * allocated): a load that needs more is refused with GpuOutOfMemoryError. WebGPU reports no free memory, so
   * only the caller can say; without it only the adapter's buffer limits are checked.
   */
  readonly memoryBudget?: number;
  readonly onProgress?: (p: LoadProgress) => void;
  readonly signal?: AbortSignal;
}

export interface EngineInfo {
  /** Where the model came from (URL, path or repo id). */
  readonly model: string;
  readonly modelType: string;
  readonly dtype: string;
  readonly contextLength: number;
  readonly vocabSize: number;
  /** Bytes of GPU memory held by the weights. */
  readonly weightBytes: number;
  /** Bytes of GPU memory held by weights and caches. */
  readonly memoryBytes: number;
  readonly adapter: { readonly vendor: string; readonly architecture: string; readonly description: string };
  readonly hasTokenizer: boolean;
  readonly hasChatTemplate: boolean;
  /** Tokens whose keys and values are cached (the prefix a next prompt can reuse). */
  readonly cachedTokens: number;
  /** A vision model (llava): prompts take images (content parts, or `{ ids, images }`). */
  readonly vision?: {
    readonly imageSize: number;
    readonly tokensPerImage: number;
    /** The id of the image token (a prompt of ids holds one, or tokensPerImage, per image). */
    readonly imageTokenId: number;
    /** Images run through the vision tower since the load (a follow-up on a cached image adds none). */
    readonly imagesEncoded: number;
    /**
     * Idefics3 (SmolVLM): an image is cut into tiles of imageSize plus the whole image, tokensPerImage is per
     * tile, and a prompt of ids holds one image token per image (expanded to the tiles' layout) or all of them.
     */
    readonly tiled?: boolean;
    /**
     * Qwen2-VL: an image is resized to its own patch grid (smart_resize), so its token count follows its size
     * (imageSize and tokensPerImage are 0); a prompt of ids holds one image token per image or all of them.
     */
    readonly variable?: boolean;
  };
}

export interface SamplingOptions {
  /** 0 picks the most likely token (greedy). Default 1. */
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly minP?: number;
  /** HF-style: logits of tokens already seen (prompt and output) are divided (>0) or multiplied (<0) by it. */
  readonly repetitionPenalty?: number;
  /** OpenAI-style: subtracted from a logit once per occurrence of its token so far. */
  readonly frequencyPenalty?: number;
  /** OpenAI-style: subtracted from a logit once when its token occurred so far. */
  readonly presencePenalty?: number;
  /** Seed of the sampler's random generator: the same seed, prompt and options give the same output. */
  readonly seed?: number;
}

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (default: until the context is full). */
  readonly maxTokens?: number;
  /** Generation stops before any of these strings; the text never contains them. */
  readonly stop?: string | readonly string[];
  /** Token ids that end generation besides the model's end-of-sequence ids. */
  readonly stopTokenIds?: readonly number[];
  /** Keep generating past end-of-sequence tokens. */
  readonly ignoreEos?: boolean;
  /** Stops generation within one token; the last chunk then has finishReason 'abort'. */
  readonly signal?: AbortSignal;
  /**
   * Constrains the output (OpenAI's response_format): `{ type: 'json_object' }` any JSON object, or
   * `{ type: 'json_schema', json_schema: { name, schema } }` JSON that matches the schema; compact (no
   * whitespace between elements). Needs a tokenizer; loads xgrammar's WASM on first use.
   */
  readonly responseFormat?: ResponseFormat;
  /** Constrains the output to an EBNF grammar (xgrammar's dialect, root rule `root`); not with a JSON responseFormat. */
  readonly grammar?: string;
}

/**
 * A prompt: text (tokenized with special tokens as the tokenizer adds them), chat messages (rendered with the
 * chat template; content parts may carry images), or token ids (with `images` for a vision model: image k
 * fills the k-th image token, expanded to the model's tokens per image, or the k-th run of that many).
 */
export type GenerateInput = string | readonly ChatMessage[] | { readonly ids: readonly number[]; readonly images?: readonly (ImageSource | string)[] };

export type FinishReason = 'stop' | 'length' | 'abort';

/** One step of a generation: the text it completes and the token ids sampled; the last one ends it. */
export interface GenerateChunk {
  /** New text ('' while a character or a possible stop string is incomplete, or with no tokenizer). */
  readonly text: string;
  readonly tokenIds: readonly number[];
  readonly finishReason?: FinishReason;
  readonly stats?: GenerationStats;
}

export interface ChatCompletions {
  create(request: ChatCompletionRequest & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(request: ChatCompletionRequest & { stream?: false | null }): Promise<ChatCompletion>;
  create(request: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
}

/** The engine, in-process (Node, tests) or in a Web Worker behind the same interface (`createEngine()`). */
export interface Engine {
  load(model: ModelSource, options?: LoadOptions): Promise<EngineInfo>;
  unload(): Promise<void>;
  /** undefined when no model is loaded. */
  info(): Promise<EngineInfo | undefined>;
  generate(input: GenerateInput, options?: GenerateOptions): AsyncIterableIterator<GenerateChunk>;
  readonly chat: { readonly completions: ChatCompletions };
  /**
   * The loaded model's KV cache read back from the GPU: the token ids of the cached positions (the last
   * prompt and reply) and their keys and values, to be saved and given to `importCache` after a reload.
   * A vision model's cache is refused (UnsupportedModelError).
   */
  exportCache(): Promise<CacheSnapshot>;
  /**
   * Restores a snapshot of `exportCache` into the loaded model's cache; the next prompt that starts with its
   * tokens forwards only what follows them. A snapshot of another model, dtype or cache shape, or longer
   * than the loaded context, throws CacheMismatchError and leaves the cache as it was.
   */
  importCache(snapshot: CacheSnapshot): Promise<void>;
  /** Releases the model and the GPU device (and ends the worker for a worker engine). */
  dispose(): Promise<void>;
}
