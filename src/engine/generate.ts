import { InvalidArgumentError } from '../errors.js';
import type { LoadedModel } from '../models/types.js';
import { StreamDecoder } from '../tokenizer/streamDecoder.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import { constraintOf, TokenMatcher, type Constraint } from './grammar.js';
import type { KvPrefix } from './kvPrefix.js';
import type { Sampler } from './sampler.js';
import { StopMatcher } from './stopMatcher.js';
import type { FinishReason, GenerateChunk, GenerateOptions, GenerationStats } from './types.js';

/** A loaded model with what a generation needs around it. */
export interface GenerationSession {
  readonly model: LoadedModel;
  readonly tokenizer: TextTokenizer | undefined;
  readonly sampler: Sampler;
  readonly kv: KvPrefix;
  /** End-of-sequence ids (the model's and the tokenizer's). */
  readonly eosIds: ReadonlySet<number>;
}

const now = () => performance.now();

/** Options inside the engine: the chat layer passes a tool-call grammar it built (src/engine/toolCalls.ts). */
export interface EngineGenerateOptions extends GenerateOptions {
  readonly constraint?: Constraint;
}

/**
 * The decode loop: forward the prompt tokens that are not cached yet, then one forward + sample + one
 * 4-byte readback per token, each step submitted before the id of the one before is read back. Yields a
 * chunk per token and a last chunk with the finish reason and stats. With a grammar (responseFormat,
 * grammar, a tool call) every draw is masked on the GPU to the tokens the grammar allows: the forward of
 * step t + 1 is submitted first, and its mask is computed on the CPU from id t while the GPU runs it.
 */
export async function* generateTokens(
  s: GenerationSession,
  prompt: readonly number[],
  opts: EngineGenerateOptions = {},
): AsyncGenerator<GenerateChunk, void, undefined> {
  const { model } = s;
  const maxContext = model.info.maxContext;
  if (prompt.length === 0) throw new InvalidArgumentError('the prompt is empty');
  if (prompt.length >= maxContext) {
    throw new InvalidArgumentError(
      `the prompt has ${prompt.length} tokens; the context holds ${maxContext} (prompt + output): drop earlier messages, or load with a larger maxContext`,
    );
  }
  const vocab = model.info.vocabSize;
  for (const id of prompt) {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new InvalidArgumentError(`token id ${id} is outside the vocabulary (0..${vocab - 1})`);
  }
  if (opts.maxTokens !== undefined && !(Number.isInteger(opts.maxTokens) && opts.maxTokens >= 0)) {
    throw new InvalidArgumentError(`maxTokens must be an integer >= 0, got ${opts.maxTokens}`);
  }
  const stops = opts.stop === undefined ? [] : typeof opts.stop === 'string' ? [opts.stop] : [...opts.stop];
  if (stops.length > 0 && !s.tokenizer) throw new InvalidArgumentError('stop strings need a tokenizer; this model has none (use stopTokenIds)');
  const stopIds = new Set<number>(opts.stopTokenIds ?? []);
  if (!opts.ignoreEos) for (const id of s.eosIds) stopIds.add(id);
  const maxNew = Math.min(opts.maxTokens ?? Infinity, maxContext - prompt.length);
  const constraint = opts.constraint ?? constraintOf(opts);
  if (constraint && !s.tokenizer) throw new InvalidArgumentError('structured output needs a tokenizer; this model has none');
  if (constraint && stopIds.size === 0) throw new InvalidArgumentError('structured output needs a stop token (the end-of-sequence id or stopTokenIds)');
  const matcher = constraint ? await TokenMatcher.create(s.tokenizer!, model.info.vocabSize, [...stopIds], constraint) : undefined;
  try {
    yield* decode(s, prompt, opts, maxNew, stops, stopIds, matcher);
  } finally {
    matcher?.dispose();
  }
}

async function* decode(
  s: GenerationSession,
  prompt: readonly number[],
  opts: GenerateOptions,
  maxNew: number,
  stops: readonly string[],
  stopIds: ReadonlySet<number>,
  matcher: TokenMatcher | undefined,
): AsyncGenerator<GenerateChunk, void, undefined> {
  const { model, sampler, kv } = s;
  sampler.begin(opts, prompt, !!matcher);
  const decoder = s.tokenizer ? new StreamDecoder(s.tokenizer) : undefined;
  const stopper = new StopMatcher(stops);
  const signal = opts.signal;

  const t0 = now();
  const reused = kv.reusable(prompt, model.cachedLength);
  let start = reused;
  let tFirst = 0;
  let generated = 0;
  let finish: FinishReason | undefined;
  let tail: number[] = [];
  if (signal?.aborted) finish = 'abort';
  else if (maxNew <= 0) finish = 'length';
  try {
    // Pipelined: step t + 1 is recorded and submitted, fed on the GPU with the id step t samples, before
    // that id is read back, so the CPU records one step while the GPU runs the one before. A step past a
    // stop is computed and dropped; what it put in the cache is the real next token, so the cache stays
    // consistent with `kv`.
    let pending: Promise<number> | undefined;
    if (!finish) {
      const feed = prompt.slice(reused);
      if (matcher) sampler.setMask(await matcher.mask());
      pending = sampler.record(model.forward(feed, start));
      kv.forwarded(feed, start);
      start += feed.length;
    }
    while (pending) {
      const ahead = generated + 1 < maxNew && !signal?.aborted;
      let next: Promise<number> | undefined;
      let id: number;
      if (!matcher) {
        // A decode step's read, paced (GpuContext.readPacer); the grammar path's are not: a mask's wait differs.
        next = ahead ? sampler.record(model.forward([0], start, { idFrom: sampler.lastId }), true) : undefined;
        next?.catch(() => {}); // dropped when this step ends the generation
        id = await pending;
      } else {
        // The forward of the next step goes to the GPU now; its draw waits for the mask that id t gives.
        const logits = ahead ? model.forward([0], start, { idFrom: sampler.lastId }) : undefined;
        if (logits) model.ctx.flush();
        id = await pending;
        if (!matcher.accept(id)) throw new Error(`the sampler drew token ${id}, which the grammar's mask did not allow`);
        if (logits && !stopIds.has(id) && !matcher.terminated) {
          sampler.setMask(await matcher.mask());
          next = sampler.record(logits);
          next.catch(() => {});
        }
      }
      pending = next;
      if (generated === 0) tFirst = now();
      generated++;
      if (ahead) kv.forwarded([id], start);
      start++;
      if (signal?.aborted) {
        finish = 'abort';
        tail = [id];
        break;
      }
      if (stopIds.has(id)) {
        finish = 'stop';
        tail = [id];
        break;
      }
      let text = '';
      if (decoder) {
        const r = stopper.push(decoder.push(id));
        text = r.text;
        if (r.stopped) finish = 'stop';
      }
      yield finish ? { text, tokenIds: [id], finishReason: finish, stats: stats() } : { text, tokenIds: [id] };
      if (finish) break;
      if (!ahead) {
        finish = generated >= maxNew ? 'length' : 'abort';
        break;
      }
    }
  } catch (err) {
    kv.clear(); // the cache may hold a partial step
    throw err;
  }
  if (finish === 'stop' && tail.length === 0) return; // ended on a stop string: the last chunk was yielded
  // An abort drops a character still incomplete in the decoder but releases text held for stop strings.
  const text = !decoder ? '' : finish === 'abort' ? stopper.flush() : stopper.push(decoder.flush()).text + stopper.flush();
  yield { text, tokenIds: tail, finishReason: finish, stats: stats() };

  function stats(): GenerationStats {
    const t = now();
    const prefillMs = (tFirst || t) - t0;
    const decodeMs = t - (tFirst || t);
    return {
      promptTokens: prompt.length,
      cachedPromptTokens: reused,
      prefillTokens: prompt.length - reused,
      generatedTokens: generated,
      timeToFirstTokenMs: generated > 0 ? prefillMs : 0,
      prefillTokensPerSecond: generated > 0 && prefillMs > 0 ? ((prompt.length - reused) * 1000) / prefillMs : 0,
      decodeTokensPerSecond: generated > 1 && decodeMs > 0 ? ((generated - 1) * 1000) / decodeMs : 0,
      totalMs: t - t0,
    };
  }
}
