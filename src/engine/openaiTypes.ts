import type { ChatMessage } from '../tokenizer/chatTemplate.js';
import type { ResponseFormat } from './grammar.js';
import type { GenerationStats } from './stats.js';
import type { FunctionTool, ToolCall, ToolChoice } from './toolCalls.js';

export type { FunctionTool, ResponseFormat, ToolCall, ToolChoice };

/** The request of OpenAI's POST /v1/chat/completions: the fields weblm honours (any other field is an InvalidArgumentError). */
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
  /** Functions the model may call, rendered by the model's chat template; calls come back in `message.tool_calls`. */
  readonly tools?: readonly FunctionTool[] | null;
  /** 'auto' (default with tools), 'none' (tools not shown), 'required' or a named function: one call whose arguments match its schema. */
  readonly tool_choice?: ToolChoice | null;
  /** true (default); false only with tool_choice 'required' or a named function, which make one call. */
  readonly parallel_tool_calls?: boolean | null;
  /** `{ type: 'json_object' }` or `{ type: 'json_schema', json_schema: { name, schema } }`: the reply is constrained to it. */
  readonly response_format?: ResponseFormat | null;
  /** Only 1 is supported. */
  readonly n?: number | null;
  /** Extra chat-template variables (vLLM's name): `{ enable_thinking: false }` for Qwen3. */
  readonly chat_template_kwargs?: Readonly<Record<string, unknown>>;
  /** Not part of OpenAI's body: aborts the request (the SDK takes it as a request option). */
  readonly signal?: AbortSignal;
}

export type ChatFinishReason = 'stop' | 'length' | 'abort' | 'tool_calls';

/** A tool call in a streamed delta: whole (id, name and all the arguments), once its closing marker is read. */
export interface ToolCallDelta extends ToolCall {
  readonly index: number;
}

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
    readonly message: {
      readonly role: 'assistant';
      readonly content: string | null;
      readonly reasoning_content?: string | null;
      readonly tool_calls?: readonly ToolCall[];
    };
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
    readonly delta: {
      readonly role?: 'assistant';
      readonly content?: string | null;
      readonly reasoning_content?: string | null;
      readonly tool_calls?: readonly ToolCallDelta[];
    };
    readonly finish_reason: ChatFinishReason | null;
    readonly logprobs: null;
  }[];
  /** On the last chunk (the one with an empty `choices`) when stream_options.include_usage; else null. */
  readonly usage?: CompletionUsage | null;
  /** weblm's extension, on that same last chunk: timings (time to first token, prefill and decode tokens/s). */
  readonly stats?: GenerationStats;
}
