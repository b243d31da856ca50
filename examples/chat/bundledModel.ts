// The model that ships with the demo (served from the build under `model/`, cached by the service worker,
// so it loads with no network). Build-time code (the vite config) and page code share this file.
//
// BUNDLED_MODEL_DIRS is the one place that says where it comes from: the first folder that exists wins.
// `models/tiny-books/` (issue 16: a small model trained here on public-domain books, with its own
// tokenizer); where it is missing, the qwen3 test fixture with a byte-level tokenizer made here, labelled
// as random weights. WEBLM_DEMO_MODEL=<dir> picks one (the e2e test pins the fixture).
import { byteTokenizerJson } from '../../test/e2e/pages/engineTokenizer.js';

export interface BundledModelSource {
  /** Folder of the repository holding the model (a Hugging Face layout). */
  readonly dir: string;
  /** 'trained': real weights that write text; 'test': random weights, gibberish replies. */
  readonly kind: 'trained' | 'test';
  readonly name: string;
  /** What a user is told about it. */
  readonly description: string;
}

export const BUNDLED_MODEL_DIRS: readonly BundledModelSource[] = [
  {
    dir: 'models/tiny-books',
    kind: 'trained',
    name: 'tiny-books',
    description:
      'A tiny model trained for this demo on public-domain books and dictionary definitions (see models/tiny-books/README.md). It writes English, but knows little.',
  },
  {
    dir: 'test/fixtures/qwen3',
    kind: 'test',
    name: 'qwen3 test model',
    description:
      'A tiny test model of the qwen3 architecture with random weights and a byte-level tokenizer: its replies are gibberish, but every part of the chat works with it.',
  },
];

/** What `model/bundle.json` says in the build: the page reads it to list and load the bundled model. */
export interface BundleManifest {
  readonly name: string;
  readonly kind: 'trained' | 'test';
  readonly description: string;
  readonly modelType: string;
  /** Files beside bundle.json (under `model/`; the VQA page's under `vqa-model/`), with their sizes. */
  readonly files: readonly { readonly path: string; readonly size: number }[];
}

/** Files of a Hugging Face folder the engine reads (a GGUF copy, model cards and test data stay out). */
export const BUNDLED_FILES =
  /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|chat_template\.jinja|model(-\d+-of-\d+)?\.safetensors|model\.safetensors\.index\.json)$/;

/** The fixtures ship no tokenizer: the test model gets this ChatML template… */
export const TEST_TOKENIZER_CONFIG = {
  eos_token: '<|im_end|>',
  chat_template:
    "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
};

/**
 * …and the byte-level tokenizer, with pseudo-words (` kalo`, ` rimen`, …) as tokens up to `vocabSize`, so
 * that every id the random model samples shows as text rather than vanishing.
 */
export function paddedByteTokenizer(vocabSize: number): object {
  const tok = byteTokenizerJson() as { added_tokens: { id: number; content: string; special: boolean }[]; model: { vocab: Record<string, number> } };
  const syllables = ['ka', 'lo', 'ri', 'men', 'tu', 'sa', 'vel', 'do', 'ni', 'pra', 'quo', 'ze', 'bi'];
  const first = tok.added_tokens.at(-1)!.id + 1;
  for (let id = first; id < vocabSize; id++) {
    const n = syllables.length;
    const k = id - first;
    let content = ` ${syllables[k % n]}${syllables[Math.floor(k / n) % n]}${k >= n * n ? syllables[Math.floor(k / n / n) % n] : ''}`;
    if (content in tok.model.vocab) content += String(id);
    tok.added_tokens.push({ ...tok.added_tokens[0]!, id, content, special: false });
    tok.model.vocab[content] = id;
  }
  return tok;
}
