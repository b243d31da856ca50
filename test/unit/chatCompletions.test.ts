import { describe, expect, it } from 'vitest';
import { completion, completionChunks } from '../../src/engine/chatCompletions.js';
import type { GenerateChunk } from '../../src/engine/types.js';

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
