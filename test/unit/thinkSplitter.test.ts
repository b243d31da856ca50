import { describe, expect, it } from 'vitest';
import { ThinkSplitter } from '../../src/engine/thinkSplitter.js';

/** Feeds pieces to a streaming splitter and joins what it releases. */
function stream<T>(pieces: string[], push: (s: string) => T, flush: () => T, join: (acc: T[]) => unknown) {
  const out = pieces.map(push);
  out.push(flush());
  return join(out);
}

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
