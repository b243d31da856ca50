import { describe, expect, it } from 'vitest';

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
