// The repository's tiny test models (test/fixtures), offered when the dev server can serve them.
// They have random weights, so their replies are gibberish; they load in a second and show every part
// of the demo working. They ship no tokenizer: this adds a byte-level one (every UTF-8 byte is a token)
// with a ChatML template, padded with pseudo-words up to the model's vocabulary.
import type { LocalFile } from '../../src/index.js';
import { byteTokenizerJson } from '../../test/e2e/pages/engineTokenizer.js';

/** URLs of each fixture's config.json, found by vite at dev time (empty when test/fixtures is absent). */
const configs = import.meta.glob('../../test/fixtures/*/config.json', { query: '?url', import: 'default' }) as Record<
  string,
  () => Promise<string>
>;

export interface FixtureModel {
  readonly name: string;
  readonly modelType: string;
  /** The folder's URL on the dev server, ending in '/'. */
  readonly baseUrl: string;
}

/** Fixtures listed first: the dense models most like real chat checkpoints. */
const PREFERRED = ['qwen3', 'qwen2', 'llama'];
const SKIP = new Set(['llava']); // a vision wrapper, not a text model

/** The fixtures the dev server serves (checked with a fetch of each config.json). */
export async function listFixtures(): Promise<FixtureModel[]> {
  const found = await Promise.all(
    Object.entries(configs).map(async ([path, url]): Promise<FixtureModel | undefined> => {
      const name = path.split('/').at(-2)!;
      if (SKIP.has(name)) return undefined;
      try {
        const href = await url();
        const res = await fetch(href);
        if (!res.ok) return undefined;
        const config = (await res.json()) as { model_type?: string };
        return { name, modelType: config.model_type ?? '?', baseUrl: href.slice(0, href.lastIndexOf('/') + 1) };
      } catch {
        return undefined;
      }
    }),
  );
  const rank = (n: string) => (PREFERRED.includes(n) ? PREFERRED.indexOf(n) : PREFERRED.length);
  return found.filter((f): f is FixtureModel => !!f).sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

/** The fixture's files with the byte-level tokenizer added, as Blobs to load with `{ blobs }`. */
export async function fixtureFiles(f: FixtureModel, signal?: AbortSignal): Promise<LocalFile[]> {
  const get = async (path: string) => {
    const res = await fetch(f.baseUrl + path, { signal });
    if (!res.ok) throw new Error(`${f.baseUrl}${path}: HTTP ${res.status}`);
    return { path, blob: await res.blob() };
  };
  const [config, weights, generation] = await Promise.all([get('config.json'), get('model.safetensors'), get('generation_config.json')]);
  const vocab = ((await config.blob.text()).match(/"vocab_size":\s*(\d+)/) ?? [])[1];
  const json = (v: unknown) => new Blob([JSON.stringify(v)], { type: 'application/json' });
  return [config, weights, generation, { path: 'tokenizer.json', blob: json(paddedTokenizer(Number(vocab ?? 512))) }, { path: 'tokenizer_config.json', blob: json(TOKENIZER_CONFIG) }];
}

const TOKENIZER_CONFIG = {
  eos_token: '<|im_end|>',
  chat_template:
    "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
};

/**
 * The byte-level tokenizer with pseudo-words (` kalo`, ` rimen`, …) as tokens up to `vocabSize`, so that
 * every id the random model samples shows as text rather than vanishing.
 */
function paddedTokenizer(vocabSize: number): object {
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
