import { InvalidArgumentError } from '../errors.js';
import type { LoadedModel } from '../models/types.js';
import { StreamDecoder } from '../tokenizer/streamDecoder.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
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

/**
 * The decode loop: forward the prompt tokens that are not cached yet, then one forward + sample + one
 * 4-byte readback per token. Yields a chunk per token and a last chunk with the finish reason and stats.
 */
export async function* generateTokens(
  s: GenerationSession,
  prompt: readonly number[],
  opts: GenerateOptions = {},
): AsyncGenerator<GenerateChunk, void, undefined> {
  const { model, sampler, kv } = s;
  const maxContext = model.info.maxContext;
  if (prompt.length === 0) throw new InvalidArgumentError('the prompt is empty');
  if (prompt.length >= maxContext) {
    throw new InvalidArgumentError(`the prompt has ${prompt.length} tokens; the context holds ${maxContext} (prompt + output)`);
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

  sampler.begin(opts, prompt);
  const decoder = s.tokenizer ? new StreamDecoder(s.tokenizer) : undefined;
  const stopper = new StopMatcher(stops);
  const signal = opts.signal;

  const t0 = now();
  const reused = kv.reusable(prompt, model.cachedLength);
  let start = reused;
  let feed: readonly number[] = prompt.slice(reused);
  let tFirst = 0;
  let generated = 0;
  let finish: FinishReason | undefined;
  let tail: number[] = [];
  try {
    while (!finish) {
      if (signal?.aborted) { finish = 'abort'; break; }
      if (generated >= maxNew) { finish = 'length'; break; }
      const logits = model.forward(feed, start);
      kv.forwarded(feed, start);
      const id = await sampler.next(logits);
      if (generated === 0) tFirst = now();
      generated++;
      start += feed.length;
      feed = [id];
      if (signal?.aborted) { finish = 'abort'; tail = [id]; break; }
      if (stopIds.has(id)) { finish = 'stop'; tail = [id]; break; }
      let text = '';
      if (decoder) {
        const r = stopper.push(decoder.push(id));
        text = r.text;
        if (r.stopped) finish = 'stop';
      }
      yield finish ? { text, tokenIds: [id], finishReason: finish, stats: stats() } : { text, tokenIds: [id] };
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
