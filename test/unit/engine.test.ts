import { expose, wrap } from 'comlink';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { completion, completionChunks } from '../../src/engine/chatCompletions.js';
import { KvPrefix } from '../../src/engine/kvPrefix.js';
import { Mutex } from '../../src/engine/mutex.js';
import { StopMatcher } from '../../src/engine/stopMatcher.js';
import { ThinkSplitter } from '../../src/engine/thinkSplitter.js';
import type { GenerateChunk } from '../../src/engine/types.js';
import { AbortError, GpuOutOfMemoryError, ModelNotFoundError, StorageQuotaError, UnsupportedModelError } from '../../src/errors.js';
import { deserializeError, installErrorTransfer, serializeError } from '../../src/worker/errorTransfer.js';

/** Feeds pieces to a streaming splitter and joins what it releases. */
function stream<T>(pieces: string[], push: (s: string) => T, flush: () => T, join: (acc: T[]) => unknown) {
  const out = pieces.map(push);
  out.push(flush());
  return join(out);
}

describe('StopMatcher', () => {
  it('stops before a stop string split across pieces and never releases any part of it', () => {
    const m = new StopMatcher(['<END>', 'stop here']);
    const pieces = ['Hello <', 'E', 'N', 'D> more'];
    const released = pieces.map((p) => m.push(p));
    expect(released.map((r) => r.text)).toEqual(['Hello ', '', '', '']);
    expect(released.at(-1)!.stopped).toBe(true);
  });

  it('releases held text once it cannot start a stop string', () => {
    const m = new StopMatcher(['###']);
    expect(m.push('a #').text).toBe('a ');
    expect(m.push('#').text).toBe('');
    expect(m.push('x').text).toBe('##x');
    expect(m.push('tail #').text).toBe('tail ');
    expect(m.flush()).toBe('#');
  });

  it('picks the earliest stop string', () => {
    const m = new StopMatcher(['b', 'abc']);
    expect(m.push('xxabc')).toEqual({ text: 'xx', stopped: true }); // 'abc' starts before 'b'
  });
});

describe('ThinkSplitter', () => {
  const split = (pieces: string[], startsInThinking: boolean) => {
    const s = new ThinkSplitter(startsInThinking);
    return stream(pieces, (p) => s.push(p), () => s.flush(), (parts) => ({
      reasoning: parts.map((p) => p.reasoning).join(''),
      content: parts.map((p) => p.content).join(''),
    }));
  };

  it('splits <think>…</think> with tags cut across tokens (DeepSeek-R1 distills)', () => {
    const text = '<think>\nLet me think.\n</think>\n\nThe answer is 42.';
    for (const size of [1, 2, 3, 5, 7, 100]) {
      const pieces = text.match(new RegExp(`[\\s\\S]{1,${size}}`, 'g'))!;
      expect(split(pieces, false)).toEqual({ reasoning: 'Let me think.', content: 'The answer is 42.' });
    }
  });

  it('starts inside the thinking when the template opened <think> (DeepSeek-R1)', () => {
    expect(split(['Hmm', ', 2+2', '.\n</th', 'ink>\n\n', '4'], true)).toEqual({ reasoning: 'Hmm, 2+2.', content: '4' });
  });

  it('passes a reply without thinking through as content', () => {
    expect(split(['<', 'b>bold</b>', ' text'], false)).toEqual({ reasoning: '', content: '<b>bold</b> text' });
    expect(split(['Hello', ' <think> is a tag'], false)).toEqual({ reasoning: '', content: 'Hello <think> is a tag' });
  });

  it('keeps newlines inside the thinking and gives an unfinished thinking as reasoning', () => {
    expect(split(['<think>a\n\nb\n', '\nc'], false)).toEqual({ reasoning: 'a\n\nb\n\nc', content: '' });
  });
});

describe('KvPrefix', () => {
  it('reuses the common prefix and always forwards the last prompt token', () => {
    const kv = new KvPrefix();
    kv.forwarded([1, 2, 3, 4], 0);
    kv.forwarded([9], 4);
    expect(kv.reusable([1, 2, 3, 4, 9, 7, 8], 5)).toBe(5);
    expect(kv.reusable([1, 2, 5], 5)).toBe(2);
    expect(kv.reusable([1, 2, 3], 5)).toBe(2);
    expect(kv.reusable([1, 2, 3, 4, 9, 7], 3)).toBe(3); // the model holds fewer positions
    kv.forwarded([6], 2);
    expect(kv.length).toBe(3);
    expect(kv.reusable([1, 2, 6, 0], 3)).toBe(3);
  });
});

describe('Mutex', () => {
  it('runs holders one at a time in call order', async () => {
    const m = new Mutex();
    const log: string[] = [];
    const job = async (name: string) => {
      const release = await m.acquire();
      log.push(`${name}+`);
      await new Promise((r) => setTimeout(r, 5));
      log.push(`${name}-`);
      release();
    };
    await Promise.all([job('a'), job('b'), job('c')]);
    expect(log).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
  });
});

async function* chunks(list: GenerateChunk[]): AsyncGenerator<GenerateChunk> {
  yield* list;
}
const stats = { promptTokens: 7, cachedPromptTokens: 3, prefillTokens: 4, generatedTokens: 5, timeToFirstTokenMs: 1, prefillTokensPerSecond: 1, decodeTokensPerSecond: 1, totalMs: 2 };
const reply: GenerateChunk[] = [
  { text: '<think>\nhm', tokenIds: [1] },
  { text: 'm\n</think>', tokenIds: [2] },
  { text: '\n\nFour', tokenIds: [3] },
  { text: '.', tokenIds: [4] },
  { text: '', tokenIds: [5], finishReason: 'stop', stats },
];

describe('chat.completions shapes', () => {
  it('builds a chat.completion with reasoning_content and usage', async () => {
    const c = await completion(chunks(reply), { model: 'm', startsInThinking: false });
    expect(c.object).toBe('chat.completion');
    expect(c.id).toMatch(/^chatcmpl-/);
    expect(c.choices[0]!.message).toEqual({ role: 'assistant', content: 'Four.', reasoning_content: 'hmm' });
    expect(c.choices[0]!.finish_reason).toBe('stop');
    expect(c.usage).toEqual({ prompt_tokens: 7, completion_tokens: 5, total_tokens: 12, prompt_tokens_details: { cached_tokens: 3 } });
  });

  it('streams chat.completion.chunk deltas, then finish_reason, then usage', async () => {
    const out = [];
    for await (const c of completionChunks(chunks(reply), { model: 'm', startsInThinking: false }, true)) out.push(c);
    expect(out[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    const deltas = out.flatMap((c) => c.choices.map((ch) => ch.delta));
    expect(deltas.map((d) => d.reasoning_content ?? '').join('')).toBe('hmm');
    expect(deltas.map((d) => d.content ?? '').join('')).toBe('Four.');
    expect(out.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(out.at(-1)!.choices).toEqual([]);
    expect(out.at(-1)!.usage!.total_tokens).toBe(12);
    expect(new Set(out.map((c) => c.id)).size).toBe(1);
  });
});

describe('errors across a comlink boundary', () => {
  it('serializes and rebuilds class, message, stack, code and fields', () => {
    const e = new StorageQuotaError('full', 100, 40, { cause: new TypeError('inner') });
    const back = deserializeError(JSON.parse(JSON.stringify(serializeError(e))));
    expect(back).toBeInstanceOf(StorageQuotaError);
    expect(back.message).toBe('full');
    expect(back.stack).toBe(e.stack);
    expect((back as StorageQuotaError).code).toBe('STORAGE_QUOTA');
    expect((back as StorageQuotaError).needed).toBe(100);
    expect((back as StorageQuotaError).available).toBe(40);
    expect(back.cause).toBeInstanceOf(TypeError);
  });

  it('keeps the class of errors thrown by an exposed object over a real MessageChannel', async () => {
    installErrorTransfer();
    const { port1, port2 } = new MessageChannel();
    const thrower = {
      fail(kind: string) {
        if (kind === 'oom') throw new GpuOutOfMemoryError('weights: 3 GB do not fit');
        if (kind === '404') throw new ModelNotFoundError('no such repo');
        if (kind === 'arch') throw new UnsupportedModelError('model_type foo');
        throw new AbortError('aborted');
      },
    };
    expose(thrower, port1 as unknown as Parameters<typeof expose>[1]);
    const remote = wrap<typeof thrower>(port2 as unknown as Parameters<typeof wrap>[0]);
    const classes = { oom: GpuOutOfMemoryError, '404': ModelNotFoundError, arch: UnsupportedModelError, abort: AbortError };
    for (const [kind, cls] of Object.entries(classes)) {
      const err = await (remote.fail(kind) as Promise<unknown>).then(() => undefined, (e: unknown) => e as Error);
      expect(err).toBeInstanceOf(cls);
      expect(err!.name).toBe(cls.name);
      expect(err!.stack).toContain('fail');
    }
    port1.close();
    port2.close();
  });
});

describe('the byte-level test tokenizer (fits the 512-id fixture models)', () => {
  it('round-trips text and streams split characters whole', async () => {
    const { TextTokenizer } = await import('../../src/tokenizer/tokenizer.js');
    const { StreamDecoder } = await import('../../src/tokenizer/streamDecoder.js');
    const { byteTokenizerJson, byteTokenizerConfig, addedId } = await import('../e2e/pages/engineTokenizer.js');
    const t = new TextTokenizer(byteTokenizerJson(), byteTokenizerConfig());
    const text = 'héllo 🤖<think>x</think>';
    const ids = t.encode(text);
    expect(ids.length).toBe(Buffer.byteLength('héllo 🤖x') + 2);
    expect(ids).toContain(addedId('<think>'));
    expect(t.decode(ids)).toBe(text);
    expect(t.vocabSize).toBe(260);
    const d = new StreamDecoder(t);
    const deltas = ids.map((id) => d.push(id));
    expect(deltas.join('') + d.flush()).toBe(text);
    expect(deltas).toContain('🤖');
    expect(t.chatTemplate!.opensThinking()).toBe(true);
  });
});
