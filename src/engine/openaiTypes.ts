import type { ChatMessage } from '../tokenizer/chatTemplate.js';
import type { GenerationStats } from './stats.js';

/** The request of OpenAI's POST /v1/chat/completions (the fields weblm honours; others are ignored). */
export interface ChatCompletionRequest {
  readonly messages: readonly ChatMessage[];
  /** Informational: the loaded model answers whatever this says. */
  readonly model?: string;
  readonly stream?: boolean | null;
  readonly stream_options?: { readonly include_usage?: boolean } | null;
  readonly max_tokens?: number | null;
  readonly max_completion_tokens?: number | null;
  readonly temperature?: number | null;
  readonly top_p?: number | null;
  readonly top_k?: number | null;
  readonly min_p?: number | null;
  readonly frequency_penalty?: number | null;
  readonly presence_penalty?: number | null;
  readonly repetition_penalty?: number | null;
  readonly seed?: number | null;
  readonly stop?: string | readonly string[] | null;
  readonly tools?: readonly unknown[];
  /** Only 1 is supported. */
  readonly n?: number | null;
  /** Extra chat-template variables (vLLM's name): `{ enable_thinking: false }` for Qwen3. */
  readonly chat_template_kwargs?: Readonly<Record<string, unknown>>;
  /** Not part of OpenAI's body: aborts the request (the SDK takes it as a request option). */
  readonly signal?: AbortSignal;
}

export type ChatFinishReason = 'stop' | 'length' | 'abort';

export interface CompletionUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details?: { readonly cached_tokens: number };
}

export interface ChatCompletion {
  readonly id: string;
  readonly object: 'chat.completion';
  readonly created: number;
  readonly model: string;
  readonly choices: readonly {
    readonly index: number;
    readonly message: { readonly role: 'assistant'; readonly content: string | null; readonly reasoning_content?: string | null };
    readonly finish_reason: ChatFinishReason;
    readonly logprobs: null;
  }[];
  readonly usage: CompletionUsage;
}

export interface ChatCompletionChunk {
  readonly id: string;
  readonly object: 'chat.completion.chunk';
  readonly created: number;
  readonly model: string;
  readonly choices: readonly {
    readonly index: number;
    readonly delta: { readonly role?: 'assistant'; readonly content?: string | null; readonly reasoning_content?: string | null };
    readonly finish_reason: ChatFinishReason | null;
    readonly logprobs: null;
  }[];
  /** On the last chunk (the one with an empty `choices`) when stream_options.include_usage; else null. */
  readonly usage?: CompletionUsage | null;
  /** weblm's extension, on that same last chunk: timings (time to first token, prefill and decode tokens/s). */
  readonly stats?: GenerationStats;
}
