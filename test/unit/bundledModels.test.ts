import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, GenerateChunk } from '../../src/engine/types.js';
import { createNodeEngine } from '../../src/node/nodeEngine.js';

// models/tiny-books: the bundled text model (models/tiny-books/README.md), checked for meaning, not plumbing.
const DIR = join(import.meta.dirname, '../../models/tiny-books');
const GGUF = join(DIR, 'tiny-books-q8_0.gguf');

// SwiftShader decodes this model at about a second per token on a 2-core machine (several under load), so each
// answer is cut at the token where the gloss's first content words have been written (`tokens`).

// Words whose definition the model was trained on, with their WordNet 3.0 gloss (first sense), each asked below in
// one way: chosen among the questions whose greedy answer in PyTorch met the criterion (models/tiny-books/training/
// eval.json; the rates of each kind are in models/tiny-books/README.md); for the GGUF, one that weblm's Q8_0 load
// answers right too (Q8_0 can change an answer).
const GLOSSES: Record<string, string> = {
  river: 'a large natural stream of water (larger than a creek)',
  anchor: 'a mechanical device that prevents a vessel from moving',
  decade: 'a period of 10 years',
  pulmonary: 'relating to or affecting the lungs',
};

const STOP = new Set(
  'a an the and or of to in on at by for with from as is are be been being that this it its which who whom any some one not no used means mean meaning especially something someone somebody etc into out up'.split(
    ' ',
  ),
);
const contentWords = (s: string, drop: string) => new Set((s.toLowerCase().match(/[a-z]+/g) ?? []).filter((w) => w.length > 2 && !STOP.has(w) && w !== drop));

/**
 * The criterion (the same as tools/bundled/train_tiny_books.py's): the answer shares at least 2 content words
 * (lowercase words of 3+ letters, not stop words, not the word itself) with the word's gloss (all of them when it
 * has fewer).
 */
function sharesMeaning(answer: string, word: string): { ok: boolean; shared: string[] } {
  const g = contentWords(GLOSSES[word]!, word);
  const shared = [...contentWords(answer, word)].filter((w) => g.has(w));
  return { ok: shared.length >= Math.min(2, g.size), shared };
}

/** A question about `word` and what its answer must hold besides the gloss's content words. */
interface Question {
  question: string;
  word: string;
  tokens: number;
  check: (answer: string) => boolean;
  what: string;
}

// A trained question (every answer begins "The word <word> means"); a held-out inflection of a trained word (no
// question about "decades" was trained, the definition of "decade" was): the answer must name the base word; a
// trained word in a phrasing never trained.
const TRAINED = (word: string, tokens: number): Question => ({
  question: `What does ${word} mean?`,
  word,
  tokens,
  check: (a) => a.startsWith(`The word ${word} means `),
  what: `starts with "The word ${word} means"`,
});
const HELD_OUT_INFLECTION: Question = {
  question: 'What does decades mean?',
  word: 'decade',
  tokens: 21,
  check: (a) => /\bdecade\b/i.test(a),
  what: 'names "decade"',
};
const UNSEEN_PHRASING: Question = { question: 'Explain the word pulmonary.', word: 'pulmonary', tokens: 13, check: () => true, what: '' };

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

/** Asks `q` through the engine's chat API (greedy): the answer must share the gloss's content words and pass `q.check`. */
async function definitionCheck(engine: Engine, q: Question) {
  const res = await engine.chat.completions.create({ messages: [{ role: 'user', content: q.question }], temperature: 0, max_tokens: q.tokens });
  const answer = res.choices[0]!.message.content ?? '';
  const verdict = sharesMeaning(answer, q.word);
  expect(verdict.ok, `"${q.question}": ${JSON.stringify(answer)} shares ${JSON.stringify(verdict.shared)} with "${GLOSSES[q.word]}"`).toBe(true);
  expect(q.check(answer), `"${q.question}": ${JSON.stringify(answer)} ${q.what}`).toBe(true);
}

async function loadChecked(engine: Engine, model: string) {
  expect(await engine.load(model)).toMatchObject({ modelType: 'llama', hasTokenizer: true, hasChatTemplate: true });
}

describe('models/tiny-books as a Hugging Face folder (f16 safetensors)', () => {
  const engine = createNodeEngine();
  beforeAll(() => loadChecked(engine, DIR), 300_000);
  afterAll(() => engine.dispose());

  it('answers "What does <word> mean?" with the meaning of the word', { timeout: 900_000 }, () => definitionCheck(engine, TRAINED('river', 9)));

  it('answers a held-out inflection ("What does decades mean?") from the base word\'s meaning', { timeout: 900_000 }, () =>
    definitionCheck(engine, HELD_OUT_INFLECTION),
  );

  it('answers a phrasing never trained ("Explain the word pulmonary.") with the meaning of the word', { timeout: 900_000 }, () =>
    definitionCheck(engine, UNSEEN_PHRASING),
  );

  it('continues prose in English: at least 80 % of its words are corpus words', { timeout: 900_000 }, async () => {
    const out = await text(engine.generate('In the beginning', { temperature: 0, maxTokens: 12 }));
    const e = englishShare(out);
    expect(e.words, JSON.stringify(out)).toBeGreaterThanOrEqual(8);
    expect(e.share, `${JSON.stringify(out)}: not corpus words ${JSON.stringify(e.unknown)}`).toBeGreaterThanOrEqual(0.8);
  });
});

describe('models/tiny-books as GGUF (q8_0)', () => {
  const engine = createNodeEngine();
  afterAll(() => engine.dispose());

  it('answers "What does <word> mean?" with the meaning of the word', { timeout: 900_000 }, async () => {
    await loadChecked(engine, GGUF);
    await definitionCheck(engine, TRAINED('anchor', 12));
  });
});
