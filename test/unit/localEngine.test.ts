import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalEngine } from '../../src/engine/localEngine.js';
import type { GenerateChunk } from '../../src/engine/types.js';
import { InvalidArgumentError, ModelNotFoundError } from '../../src/errors.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import type { ModelFiles } from '../../src/weights/files.js';
import { byteTokenizerConfig, byteTokenizerJson } from '../e2e/pages/engineTokenizer.js';
import { expected, fixtureDir } from '../helpers/fixtures.js';

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
  let prompt: number[] = [];
  let greedy: number[] = [];
  beforeAll(async () => ({ inputIds: prompt, greedyIds: greedy } = await expected('qwen2')));
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
