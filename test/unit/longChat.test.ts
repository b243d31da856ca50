import { afterAll, describe, expect, it } from 'vitest';
import { LocalEngine } from '../../src/engine/localEngine.js';
import type { ChatMessage, GenerateChunk } from '../../src/engine/types.js';
import { InvalidArgumentError } from '../../src/errors.js';
import type { GpuContext } from '../../src/gpu/context.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import type { ModelFiles } from '../../src/weights/files.js';
import { byteTokenizerConfig, byteTokenizerJson } from '../e2e/pages/engineTokenizer.js';
import { fixtureDir } from '../helpers/fixtures.js';

/** The llama fixture with the byte-level test tokenizer and its chat template beside it. */
function llamaChat(): ModelFiles {
  const base = folderFiles(fixtureDir('llama'));
  const extra: Record<string, string> = {
    'tokenizer.json': JSON.stringify(byteTokenizerJson()),
    'tokenizer_config.json': JSON.stringify(byteTokenizerConfig()),
  };
  return {
    location: base.location,
    has: async (p) => p in extra || base.has(p),
    text: async (p) => (p in extra ? extra[p]! : base.text(p)),
    open: (p) => base.open(p),
  };
}

describe('a long chat (10,000+ tokens in 100 turns) on a 256-token context', () => {
  const state: { ctx?: GpuContext } = {};
  const engine = new LocalEngine({ gpu: async () => (state.ctx = await createNodeGpu()) });
  afterAll(() => engine.dispose());

  it('ends replies at the context with length, refuses a prompt past it with a clear error, and holds the same GPU buffers throughout', async () => {
    const CONTEXT = 256;
    await engine.load({ files: llamaChat() }, { maxContext: CONTEXT });
    const ctx = state.ctx!;
    let history: ChatMessage[] = [];
    let conversationTokens = 0;
    const finishes = new Map<string, number>();
    let refused = 0;
    let buffers: { live: number; bytes: number } | undefined;
    for (let turn = 0; turn < 100; turn++) {
      // Every user turn is new text (100 tokens with this byte tokenizer); replies are short (SwiftShader is slow),
      // a longer one every tenth turn, the first included (decode's attention scratch is made on first use).
      const user = `turn ${turn}: ${'the quick brown fox jumps over the lazy dog '.repeat(3)}`.slice(0, 100);
      history.push({ role: 'user', content: user });
      for (;;) {
        try {
          const maxTokens = turn % 10 === 0 ? 8 : 1;
          const r = await engine.chat.completions.create({ messages: history, max_tokens: maxTokens, temperature: 0 });
          const reason = r.choices[0]!.finish_reason;
          finishes.set(reason, (finishes.get(reason) ?? 0) + 1);
          expect(r.usage.prompt_tokens + r.usage.completion_tokens).toBeLessThanOrEqual(CONTEXT);
          if (reason === 'length' && r.usage.completion_tokens < maxTokens) expect(r.usage.prompt_tokens + r.usage.completion_tokens).toBe(CONTEXT);
          conversationTokens += r.usage.completion_tokens + user.length;
          history.push({ role: 'assistant', content: r.choices[0]!.message.content ?? '' });
          break;
        } catch (e) {
          // The conversation outgrew the context: the engine says so; the app drops the oldest exchange.
          expect(e).toBeInstanceOf(InvalidArgumentError);
          expect((e as Error).message).toMatch(/the prompt has \d+ tokens; the context holds 256 .*drop earlier messages/);
          refused++;
          history = history.slice(2);
        }
      }
      const now = { live: ctx.liveBuffers, bytes: ctx.bytesAllocated };
      if (turn === 0) buffers = now;
      else expect(now, `after turn ${turn}`).toEqual(buffers);
    }
    expect(conversationTokens).toBeGreaterThan(10_000);
    expect(refused).toBeGreaterThan(0);
    expect(finishes.get('length')).toBeGreaterThan(0);
    // A reply that runs into the end of the context stops there with 'length'.
    const prompt = Array.from({ length: CONTEXT - 3 }, (_, i) => 3 + (i % 250));
    const chunks = [];
    for await (const c of engine.generate({ ids: prompt }, { maxTokens: 40, temperature: 0, ignoreEos: true })) chunks.push(c);
    expect(chunks.flatMap((c) => c.tokenIds).length).toBe(3);
    expect(chunks.at(-1)!.finishReason).toBe('length');
    expect({ live: ctx.liveBuffers, bytes: ctx.bytesAllocated }).toEqual(buffers);
  }, 900_000);
});

describe('sliding-window layers (mistral_swa, window 8) on a long context', () => {
  const engine = new LocalEngine({ gpu: () => createNodeGpu() });
  afterAll(() => engine.dispose());

  it('keep a ring of the window whatever the context, and generate far past the window', async () => {
    const files = folderFiles(fixtureDir('mistral_swa'));
    const small = await engine.load({ files }, { maxContext: 1024 });
    const large = await engine.load({ files }, { maxContext: 16384 });
    // Only the ids and positions buffers (4 bytes a position each) grow with the context; the KV rings do not.
    expect(large.memoryBytes - small.memoryBytes).toBe(2 * 4 * (16384 - 1024));
    const prompt = Array.from({ length: 300 }, (_, i) => 3 + ((i * 11) % 500));
    const chunks: GenerateChunk[] = [];
    for await (const c of engine.generate({ ids: prompt }, { maxTokens: 12, temperature: 0, ignoreEos: true })) chunks.push(c);
    expect(chunks.flatMap((c) => c.tokenIds).length).toBe(12);
    expect(chunks.at(-1)!.finishReason).toBe('length');
  });
});
