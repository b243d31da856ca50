import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine, GenerateChunk } from '../../src/engine/types.js';
import { createNodeEngine } from '../../src/node/nodeEngine.js';

// models/tiny-books: the bundled text model (models/tiny-books/README.md), checked for meaning, not plumbing.
const DIR = join(import.meta.dirname, '../../models/tiny-books');
const GGUF = join(DIR, 'tiny-books-q8_0.gguf');

// SwiftShader on a shared 2-core machine decodes this model at a few seconds per token (up to 20 s under load),
// so the test keeps to short generations: the first 12 tokens of an answer hold the gloss's first content words.
const ANSWER_TOKENS = 12;

// Words whose definition the model was trained on (held in), with their WordNet 3.0 gloss (first sense), chosen
// among those whose greedy answer in PyTorch (models/tiny-books/training/samples.txt) was right.
const GLOSSES: Record<string, string> = {
  river: 'a large natural stream of water (larger than a creek)',
  king: 'a male sovereign; ruler of a kingdom',
  house: 'a dwelling that serves as living quarters for one or more families',
  ocean: 'a large body of water constituting a principal part of the hydrosphere',
  courage: 'a quality of spirit that enables you to face danger or pain without showing fear',
};

const STOP = new Set(
  'a an the and or of to in on at by for with from as is are be been being that this it its which who whom any some one not no used means mean meaning especially something someone somebody etc into out up'.split(
    ' ',
  ),
);
const contentWords = (s: string, drop: string) => new Set((s.toLowerCase().match(/[a-z]+/g) ?? []).filter((w) => w.length > 2 && !STOP.has(w) && w !== drop));

/**
 * The criterion (the same as tools/bundled/train_tiny_books.py's): the answer shares at least 2 content words
 * (lowercase words of 3+ letters, not stop words, not the asked word) with the gloss.
 */
function sharesMeaning(answer: string, word: string): { ok: boolean; shared: string[] } {
  const g = contentWords(GLOSSES[word]!, word);
  const shared = [...contentWords(answer, word)].filter((w) => g.has(w));
  return { ok: shared.length >= Math.min(2, g.size), shared };
}

// The corpus vocabulary: every lowercase word seen at least twice in the training prose.
const VOCAB = new Set(readFileSync(join(DIR, 'words.txt'), 'utf8').split('\n').filter(Boolean));

/** The share of the words of `text` (runs of letters, lowercased) that are corpus words. */
function englishShare(text: string): { share: number; words: number; unknown: string[] } {
  const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
  const unknown = words.filter((w) => !VOCAB.has(w));
  return { share: words.length ? 1 - unknown.length / words.length : 0, words: words.length, unknown };
}

async function text(it: AsyncIterable<GenerateChunk>): Promise<string> {
  let s = '';
  for await (const c of it) s += c.text;
  return s;
}

/** Loads `model` into `engine` and asks what each word means: the answer must share the gloss's content words. */
async function definitionCheck(engine: Engine, model: string, words: readonly string[]) {
  const info = await engine.load(model);
  expect(info).toMatchObject({ modelType: 'llama', hasTokenizer: true, hasChatTemplate: true });
  for (const word of words) {
    const res = await engine.chat.completions.create({
      messages: [{ role: 'user', content: `What does ${word} mean?` }],
      temperature: 0,
      max_tokens: ANSWER_TOKENS,
    });
    const answer = res.choices[0]!.message.content ?? '';
    const verdict = sharesMeaning(answer, word);
    expect(verdict.ok, `"${word}": ${JSON.stringify(answer)} shares ${JSON.stringify(verdict.shared)} with "${GLOSSES[word]}"`).toBe(true);
    expect(answer.startsWith(`${word[0]!.toUpperCase()}${word.slice(1)} means `), answer).toBe(true);
  }
}

describe('models/tiny-books as a Hugging Face folder (f16 safetensors)', () => {
  const engine = createNodeEngine();
  afterAll(() => engine.dispose());

  it('answers "What does <word> mean?" with the meaning of the word', { timeout: 900_000 }, () => definitionCheck(engine, DIR, ['river']));

  it('continues prose in English: at least 80 % of its words are corpus words', { timeout: 900_000 }, async () => {
    const out = await text(engine.generate('In the beginning', { temperature: 0, maxTokens: 16 }));
    const e = englishShare(out);
    expect(e.words, JSON.stringify(out)).toBeGreaterThanOrEqual(8);
    expect(e.share, `${JSON.stringify(out)}: not corpus words ${JSON.stringify(e.unknown)}`).toBeGreaterThanOrEqual(0.8);
  });
});

describe('models/tiny-books as GGUF (q8_0)', () => {
  const engine = createNodeEngine();
  afterAll(() => engine.dispose());

  it('answers "What does <word> mean?" with the meaning of the word', { timeout: 900_000 }, () => definitionCheck(engine, GGUF, ['ocean']));
});
