import { readFileSync } from 'node:fs';
import { expose, wrap } from 'comlink';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalEngine } from '../../src/engine/localEngine.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import type { ModelFiles } from '../../src/weights/files.js';
import { byteTokenizerConfig, byteTokenizerJson } from '../e2e/pages/engineTokenizer.js';
import { fixtureDir } from '../helpers/fixtures.js';
import { completion, completionChunks } from '../../src/engine/chatCompletions.js';
import { KvPrefix } from '../../src/engine/kvPrefix.js';
import { Mutex } from '../../src/engine/mutex.js';
import { StopMatcher } from '../../src/engine/stopMatcher.js';
import { ThinkSplitter } from '../../src/engine/thinkSplitter.js';
import type { GenerateChunk } from '../../src/engine/types.js';
import { AbortError, GpuOutOfMemoryError, InvalidArgumentError, ModelNotFoundError, StorageQuotaError, UnsupportedModelError } from '../../src/errors.js';
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
    return stream(
      pieces,
      (p) => s.push(p),
      () => s.flush(),
      (parts) => ({
        reasoning: parts.map((p) => p.reasoning).join(''),
        content: parts.map((p) => p.content).join(''),
      }),
    );
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
const stats = {
  promptTokens: 7,
  cachedPromptTokens: 3,
  prefillTokens: 4,
  generatedTokens: 5,
  timeToFirstTokenMs: 1,
  prefillTokensPerSecond: 1,
  decodeTokensPerSecond: 1,
  totalMs: 2,
};
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
      const err = await (remote.fail(kind) as Promise<unknown>).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
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

/** I32 tensors of a safetensors file (the fixture's expected.safetensors). */
function readI32(path: string, name: string): number[] {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const t = header[name]!;
  if (t.dtype !== 'I32') throw new Error(`${name} is ${t.dtype}`);
  const bytes = buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
  return Array.from(new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
}

/** A model's files with some in-memory files added (the test tokenizer next to a fixture). */
function withFiles(base: ModelFiles, extra: Record<string, string>): ModelFiles {
  return {
    location: base.location,
    has: async (p) => p in extra || base.has(p),
    text: async (p) => (p in extra ? extra[p]! : base.text(p)),
    open: async (p) => {
      if (!(p in extra)) return base.open(p);
      const bytes = new TextEncoder().encode(extra[p]!);
      return { size: bytes.byteLength, read: async (o, l) => bytes.slice(o, o + l) };
    },
  };
}

const FIXTURE = fixtureDir('qwen2');

async function collect(it: AsyncIterable<GenerateChunk>): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}
const idsOf = (chunks: GenerateChunk[]) => chunks.flatMap((c) => c.tokenIds);

describe('LocalEngine on the qwen2 fixture (Dawn)', () => {
  const engine = new LocalEngine({ gpu: () => createNodeGpu() });
  const prompt = readI32(`${FIXTURE}/expected.safetensors`, 'input_ids');
  const greedy = readI32(`${FIXTURE}/expected.safetensors`, 'greedy_ids');
  afterAll(() => engine.dispose());

  it('loads and reports the model', async () => {
    const info = await engine.load({ files: folderFiles(FIXTURE) });
    expect(info.modelType).toBe('qwen2');
    expect(info.vocabSize).toBe(512);
    expect(info.hasTokenizer).toBe(false);
    expect(info.memoryBytes).toBeGreaterThan(0);
  });

  it('generates the reference greedy continuation from token ids, one chunk per token', async () => {
    const chunks = await collect(engine.generate({ ids: prompt }, { temperature: 0, maxTokens: greedy.length }));
    expect(idsOf(chunks)).toEqual(greedy);
    const last = chunks.at(-1)!;
    expect(last.finishReason).toBe('length');
    expect(last.stats).toMatchObject({ promptTokens: prompt.length, generatedTokens: greedy.length, cachedPromptTokens: 0, prefillTokens: prompt.length });
    expect(last.stats!.timeToFirstTokenMs).toBeGreaterThan(0);
  });

  it('reuses the cached prefix on the next prompt and still continues exactly', async () => {
    // The cache holds the prompt and the first 23 generated tokens: a prompt extending 11 of them
    // forwards only its last token, and the continuation is the reference's.
    const next = [...prompt, ...greedy.slice(0, 11)];
    const chunks = await collect(engine.generate({ ids: next }, { temperature: 0, maxTokens: 6 }));
    expect(idsOf(chunks)).toEqual(greedy.slice(11, 17));
    const s = chunks.at(-1)!.stats!;
    expect(s.cachedPromptTokens).toBe(next.length - 1);
    expect(s.prefillTokens).toBe(1);
    // A prompt that departs after 5 tokens reuses 5.
    const other = [...prompt.slice(0, 5), ...prompt.slice(0, 4)];
    const again = await collect(engine.generate({ ids: other }, { temperature: 0, maxTokens: 2 }));
    expect(again.at(-1)!.stats!.cachedPromptTokens).toBe(5);
    expect((await engine.info())!.cachedTokens).toBe(other.length + 1);
  });

  it('stops on a stop token id and within one token of an abort', async () => {
    const stopAt = greedy[4]!;
    const firstStop = greedy.indexOf(stopAt);
    const stopped = await collect(engine.generate({ ids: prompt }, { temperature: 0, stopTokenIds: [stopAt], maxTokens: 20 }));
    expect(stopped.at(-1)!.finishReason).toBe('stop');
    expect(idsOf(stopped)).toEqual(greedy.slice(0, firstStop + 1));

    const ac = new AbortController();
    const seen: GenerateChunk[] = [];
    for await (const c of engine.generate({ ids: prompt }, { temperature: 0, maxTokens: 20, signal: ac.signal })) {
      seen.push(c);
      if (seen.length === 3) ac.abort();
    }
    expect(seen.at(-1)!.finishReason).toBe('abort');
    expect(seen.at(-1)!.stats!.generatedTokens).toBeLessThanOrEqual(4);
  });

  it('samples reproducibly from a seed, with penalties', async () => {
    const opts = {
      temperature: 1.2,
      topK: 40,
      topP: 0.95,
      minP: 0.01,
      seed: 1234,
      maxTokens: 8,
      repetitionPenalty: 1.3,
      presencePenalty: 0.5,
      frequencyPenalty: 0.2,
    };
    const a = idsOf(await collect(engine.generate({ ids: prompt }, opts)));
    const b = idsOf(await collect(engine.generate({ ids: prompt }, opts)));
    expect(a).toEqual(b);
    expect(a.length).toBe(8);
  });

  it('rejects bad input with typed errors', async () => {
    await expect(collect(engine.generate({ ids: [600] }))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(collect(engine.generate('text needs a tokenizer'))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(collect(engine.generate({ ids: prompt }, { temperature: -1 }))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(engine.load({ files: folderFiles('/nonexistent/model') })).rejects.toBeInstanceOf(ModelNotFoundError);
  });

  it('runs OpenAI-style chat with the byte tokenizer: text, stop strings, reasoning_content, usage, cache reuse', async () => {
    const files = withFiles(folderFiles(FIXTURE), {
      'tokenizer.json': JSON.stringify(byteTokenizerJson()),
      'tokenizer_config.json': JSON.stringify(byteTokenizerConfig()),
    });
    const info = await engine.load({ files });
    expect(info.hasChatTemplate).toBe(true);
    const messages = [{ role: 'user', content: 'Hi' }] as const;
    const full = await engine.chat.completions.create({ messages: [...messages], max_tokens: 12, temperature: 0 });
    expect(full.object).toBe('chat.completion');
    expect(full.usage.completion_tokens).toBeGreaterThan(0);
    // The template opens <think>: what the model says before any </think> is reasoning.
    const msg = full.choices[0]!.message;
    expect(typeof msg.reasoning_content).toBe('string');
    expect((msg.reasoning_content ?? '') + msg.content).not.toContain('<think>');

    const streamed = await engine.chat.completions.create({
      messages: [...messages],
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let reasoning = '';
    let content = '';
    let usage;
    for await (const c of streamed) {
      for (const ch of c.choices) {
        reasoning += ch.delta.reasoning_content ?? '';
        content += ch.delta.content ?? '';
      }
      if (c.usage) usage = c.usage;
    }
    expect(reasoning).toBe(msg.reasoning_content);
    expect(content).toBe(msg.content);
    // The same prompt again: all but its last token come from the cache.
    expect(usage!.prompt_tokens_details!.cached_tokens).toBe(usage!.prompt_tokens - 1);

    // A stop string cut out of the greedy text: the output ends right before it.
    const text = (await collect(engine.generate('Hello', { temperature: 0, maxTokens: 12 }))).map((c) => c.text).join('');
    const chars = [...text];
    const at = chars.findIndex((ch, i) => i > 0 && ch !== '\uFFFD' && chars[i + 1] !== undefined && chars[i + 1] !== '\uFFFD');
    expect(at).toBeGreaterThan(0);
    const stop = chars[at]! + chars[at + 1]!;
    const cut = await collect(engine.generate('Hello', { temperature: 0, maxTokens: 12, stop: [stop] }));
    expect(cut.map((c) => c.text).join('')).toBe(text.slice(0, text.indexOf(stop)));
    expect(cut.at(-1)!.finishReason).toBe('stop');
  });
});
