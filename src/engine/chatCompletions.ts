import { InvalidArgumentError } from '../errors.js';
import type { ChatMessage } from '../tokenizer/chatTemplate.js';
import type { EngineGenerateOptions } from './generate.js';
import { constraintOf } from './grammar.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatFinishReason, CompletionUsage, ToolCall } from './openaiTypes.js';
import { ThinkSplitter } from './thinkSplitter.js';
import { checkTools, ToolCallParser, toolCallConstraint, toolFormatOf, type FunctionTool, type ToolFormat } from './toolCalls.js';
import type { GenerateChunk, GenerationStats } from './types.js';

/** What a completion says about itself: the model, whether the prompt opened a <think> block, the tool-call syntax to parse. */
export interface CompletionMeta {
  readonly model: string;
  readonly startsInThinking: boolean;
  readonly tools?: ToolFormat;
}

/** A request made ready for the engine: generate options, the tools to render, the messages as the template takes them. */
export interface ChatPlan {
  readonly options: EngineGenerateOptions;
  readonly tools: readonly FunctionTool[] | undefined;
  readonly messages: readonly ChatMessage[];
  /** The tool-call syntax to parse out of the reply (with tools and a template that shows one). */
  readonly toolFormat: ToolFormat | undefined;
}

// Request fields weblm reads; any other field with a value is refused rather than ignored.
const FIELDS = new Set([
  'messages',
  'model',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'frequency_penalty',
  'presence_penalty',
  'repetition_penalty',
  'seed',
  'stop',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
  'n',
  'chat_template_kwargs',
  'signal',
]);

/**
 * The generate options of an OpenAI request (snake_case to camelCase; null means unset), its tools and
 * the grammar they need. `template` is the chat template's source (which tool-call syntax the model uses).
 */
export function chatPlan(req: ChatCompletionRequest, template?: string): ChatPlan {
  if (typeof req !== 'object' || req === null) throw new InvalidArgumentError('the request must be an object');
  for (const [k, v] of Object.entries(req)) {
    if (v !== undefined && v !== null && !FIELDS.has(k)) throw new InvalidArgumentError(`the request field ${k} is not supported by weblm`);
  }
  if ((req.n ?? 1) !== 1) throw new InvalidArgumentError('n must be 1: weblm generates one choice per request');
  if (!Array.isArray(req.messages) || req.messages.length === 0) throw new InvalidArgumentError('messages must be a non-empty array');
  const v = <T>(x: T | null | undefined): T | undefined => (x === null ? undefined : x);
  const { tools, choice } = checkTools(v(req.tools), v(req.tool_choice));
  const format = tools ? toolFormatOf(template) : undefined;
  if (tools && !format && template !== undefined)
    throw new InvalidArgumentError("this model's chat template shows no tool-call syntax weblm can read (Qwen, DeepSeek, Llama 3)");
  const forced = tools && format ? toolCallConstraint(format, tools, choice) : undefined;
  if (req.parallel_tool_calls === false && !forced && tools)
    throw new InvalidArgumentError("parallel_tool_calls false needs tool_choice 'required' or a named function (one call)");
  const responseFormat = v(req.response_format);
  if (forced && responseFormat && responseFormat.type !== 'text')
    throw new InvalidArgumentError('response_format cannot constrain a reply that tool_choice forces to be a tool call');
  const options: EngineGenerateOptions = {
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
    responseFormat,
    constraint: forced ?? constraintOf({ responseFormat }),
  };
  // Qwen's templates read the content of an assistant turn as a string; OpenAI clients send null beside tool_calls.
  const messages =
    format === 'hermes' ? req.messages.map((m) => (m?.role === 'assistant' && m.content == null && m.tool_calls ? { ...m, content: '' } : m)) : req.messages;
  return { options, tools, messages, toolFormat: format };
}

/** A generation's chunks as OpenAI's streamed `chat.completion.chunk`s, thinking in `reasoning_content`, tool calls in `tool_calls`. */
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
  const calls = meta.tools ? new ToolCallParser(meta.tools) : undefined;
  let index = 0;
  yield chunk({ role: 'assistant', content: '' });
  for await (const c of chunks) {
    const parts = c.finishReason ? join(split.push(c.text), split.flush()) : split.push(c.text);
    if (parts.reasoning) yield chunk({ content: null, reasoning_content: parts.reasoning });
    const out = calls ? join2(calls.push(parts.content), c.finishReason ? calls.flush() : { content: '', calls: [] }) : { content: parts.content, calls: [] };
    if (out.content) yield chunk({ content: out.content });
    if (out.calls.length) yield chunk({ tool_calls: out.calls.map((t) => ({ index: index++, ...t })) });
    if (c.finishReason) {
      yield chunk({}, finishOf(c.finishReason, index > 0));
      if (includeUsage) yield { ...head, choices: [], usage: usage(c.stats), ...(c.stats ? { stats: c.stats } : {}) };
    }
  }
}

/** A whole generation as one OpenAI `chat.completion` with `usage`. */
export async function completion(chunks: AsyncIterable<GenerateChunk>, meta: CompletionMeta): Promise<ChatCompletion> {
  const split = new ThinkSplitter(meta.startsInThinking);
  const parser = meta.tools ? new ToolCallParser(meta.tools) : undefined;
  let reasoning = '';
  let content = '';
  const toolCalls: ToolCall[] = [];
  let finish: ChatFinishReason = 'stop';
  let stats: GenerationStats | undefined;
  for await (const c of chunks) {
    const parts = c.finishReason ? join(split.push(c.text), split.flush()) : split.push(c.text);
    reasoning += parts.reasoning;
    const out = parser
      ? join2(parser.push(parts.content), c.finishReason ? parser.flush() : { content: '', calls: [] })
      : { content: parts.content, calls: [] };
    content += out.content;
    toolCalls.push(...out.calls);
    if (c.finishReason) {
      finish = finishOf(c.finishReason, toolCalls.length > 0);
      stats = c.stats;
    }
  }
  const thinking = meta.startsInThinking || reasoning !== '';
  const calls = toolCalls.length > 0;
  return {
    id: completionId(),
    object: 'chat.completion',
    created: nowSeconds(),
    model: meta.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: calls && content.trim() === '' ? null : content,
          ...(thinking ? { reasoning_content: reasoning } : {}),
          ...(calls ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: finish,
        logprobs: null,
      },
    ],
    usage: usage(stats),
  };
}

function finishOf(f: GenerateChunk['finishReason'] & string, called: boolean): ChatFinishReason {
  return called && f === 'stop' ? 'tool_calls' : f;
}

function join(a: { reasoning: string; content: string }, b: { reasoning: string; content: string }) {
  return { reasoning: a.reasoning + b.reasoning, content: a.content + b.content };
}

function join2(a: { content: string; calls: ToolCall[] }, b: { content: string; calls: ToolCall[] }) {
  return { content: a.content + b.content, calls: [...a.calls, ...b.calls] };
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
