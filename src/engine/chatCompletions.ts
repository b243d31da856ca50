import { InvalidArgumentError } from '../errors.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatFinishReason, CompletionUsage } from './openaiTypes.js';
import { ThinkSplitter } from './thinkSplitter.js';
import type { GenerateChunk, GenerateOptions, GenerationStats } from './types.js';

/** What a completion says about itself: the id, the model, and whether the prompt opened a <think> block. */
export interface CompletionMeta {
  readonly model: string;
  readonly startsInThinking: boolean;
}

/** The generate options of an OpenAI request (snake_case to camelCase; null means unset). */
export function requestOptions(req: ChatCompletionRequest): GenerateOptions {
  if ((req.n ?? 1) !== 1) throw new InvalidArgumentError('n must be 1: weblm generates one choice per request');
  if (!Array.isArray(req.messages) || req.messages.length === 0) throw new InvalidArgumentError('messages must be a non-empty array');
  const v = <T>(x: T | null | undefined): T | undefined => (x === null ? undefined : x);
  return {
    maxTokens: v(req.max_completion_tokens) ?? v(req.max_tokens),
    temperature: v(req.temperature),
    topP: v(req.top_p),
    topK: v(req.top_k),
    minP: v(req.min_p),
    frequencyPenalty: v(req.frequency_penalty),
    presencePenalty: v(req.presence_penalty),
    repetitionPenalty: v(req.repetition_penalty),
    seed: v(req.seed),
    stop: v(req.stop),
    signal: req.signal,
  };
}

/** A generation's chunks as OpenAI's streamed `chat.completion.chunk`s, thinking in `reasoning_content`. */
export async function* completionChunks(
  chunks: AsyncIterable<GenerateChunk>,
  meta: CompletionMeta,
  includeUsage: boolean,
): AsyncGenerator<ChatCompletionChunk, void, undefined> {
  const head = { id: completionId(), object: 'chat.completion.chunk' as const, created: nowSeconds(), model: meta.model };
  const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: ChatFinishReason | null = null): ChatCompletionChunk => ({
    ...head,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const split = new ThinkSplitter(meta.startsInThinking);
  yield chunk({ role: 'assistant', content: '' });
  for await (const c of chunks) {
    const parts = c.finishReason ? join(split.push(c.text), split.flush()) : split.push(c.text);
    if (parts.reasoning) yield chunk({ content: null, reasoning_content: parts.reasoning });
    if (parts.content) yield chunk({ content: parts.content });
    if (c.finishReason) {
      yield chunk({}, c.finishReason);
      if (includeUsage) yield { ...head, choices: [], usage: usage(c.stats), ...(c.stats ? { stats: c.stats } : {}) };
    }
  }
}

/** A whole generation as one OpenAI `chat.completion` with `usage`. */
export async function completion(chunks: AsyncIterable<GenerateChunk>, meta: CompletionMeta): Promise<ChatCompletion> {
  const split = new ThinkSplitter(meta.startsInThinking);
  let reasoning = '';
  let content = '';
  let finish: ChatFinishReason = 'stop';
  let stats: GenerationStats | undefined;
  for await (const c of chunks) {
    const parts = c.finishReason ? join(split.push(c.text), split.flush()) : split.push(c.text);
    reasoning += parts.reasoning;
    content += parts.content;
    if (c.finishReason) {
      finish = c.finishReason;
      stats = c.stats;
    }
  }
  const thinking = meta.startsInThinking || reasoning !== '';
  return {
    id: completionId(),
    object: 'chat.completion',
    created: nowSeconds(),
    model: meta.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, ...(thinking ? { reasoning_content: reasoning } : {}) },
        finish_reason: finish,
        logprobs: null,
      },
    ],
    usage: usage(stats),
  };
}

function join(a: { reasoning: string; content: string }, b: { reasoning: string; content: string }) {
  return { reasoning: a.reasoning + b.reasoning, content: a.content + b.content };
}

function usage(s: GenerationStats | undefined): CompletionUsage {
  const prompt = s?.promptTokens ?? 0;
  const completion = s?.generatedTokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: s?.cachedPromptTokens ?? 0 },
  };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function completionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `chatcmpl-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
