import { InvalidModelError, UnsupportedModelError } from '../errors.js';
import type { GGUFTypedValue, GGUFValue } from './ggufFormat.js';
import { GGUFTokenType } from './ggufFormat.js';
import { meta } from './ggufWriter.js';

/** Pre-tokenizer regexes llama.cpp names (llama-vocab.cpp); `default` is GPT-2's. */
export const PRE_REGEX: Record<string, string> = {
  'llama-bpe': "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  qwen2: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

interface TokenizerJson {
  added_tokens?: { id: number; content: string; special?: boolean }[];
  pre_tokenizer?: unknown;
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[]; byte_fallback?: boolean };
}

export interface GGUFTokenizer {
  /** A tokenizer.json object for @huggingface/tokenizers. */
  tokenizerJson: object;
  /** tokenizer_config.json fields: bos/eos tokens and the chat template. */
  tokenizerConfig: { bos_token?: string; eos_token?: string; pad_token?: string; chat_template?: string; add_bos_token?: boolean };
}

/** The llama.cpp pre-tokenizer name of a tokenizer.json's pre_tokenizer. */
function preName(pre: unknown): string {
  const s = JSON.stringify(pre ?? null);
  for (const [name, re] of Object.entries(PRE_REGEX)) if (s.includes(JSON.stringify(re).slice(1, -1))) return name;
  return 'default';
}

const specialContent = (t: unknown): string | undefined => (typeof t === 'string' ? t : (t as { content?: string } | null)?.content);

/**
 * tokenizer.* GGUF metadata of a byte-level BPE tokenizer.json (the `gpt2` model of llama.cpp), as
 * convert_hf_to_gguf writes it: ids without a token become `[PAD{i}]` (UNUSED) up to the model's vocab size.
 */
export function ggufTokenizerMetadata(
  json: TokenizerJson,
  tokConfig: Record<string, unknown>,
  modelConfig: Record<string, unknown>,
  vocabSize: number,
): Map<string, GGUFTypedValue> {
  const model = json.model;
  if (model?.type !== 'BPE' || !model.vocab || model.byte_fallback) {
    throw new UnsupportedModelError(
      `tokenizer.json: only byte-level BPE tokenizers convert to GGUF (got ${model?.type}${model?.byte_fallback ? ' with byte_fallback' : ''})`,
    );
  }
  const byId = new Map<number, string>();
  for (const [tok, id] of Object.entries(model.vocab)) byId.set(id, tok);
  const added = new Map((json.added_tokens ?? []).map((t) => [t.id, t]));
  for (const t of added.values()) byId.set(t.id, t.content);
  let n = vocabSize;
  for (const id of byId.keys()) n = Math.max(n, id + 1); // no spread: vocabularies pass the argument limit
  const tokens: string[] = [];
  const types: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = byId.get(i);
    const a = added.get(i);
    if (t === undefined) {
      tokens.push(`[PAD${i}]`);
      types.push(GGUFTokenType.UNUSED);
    } else {
      tokens.push(t);
      types.push(a ? (a.special ? GGUFTokenType.CONTROL : GGUFTokenType.USER_DEFINED) : GGUFTokenType.NORMAL);
    }
  }
  if (tokens.length > vocabSize) throw new InvalidModelError(`tokenizer.json has ${tokens.length} tokens but the model's vocab_size is ${vocabSize}`);
  const merges = (model.merges ?? []).map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const out = new Map<string, GGUFTypedValue>([
    ['tokenizer.ggml.model', meta.str('gpt2')],
    ['tokenizer.ggml.pre', meta.str(preName(json.pre_tokenizer))],
    ['tokenizer.ggml.tokens', meta.strings(tokens)],
    ['tokenizer.ggml.token_type', meta.i32s(types)],
    ['tokenizer.ggml.merges', meta.strings(merges)],
  ]);
  const idOf = (key: string, cfgKey: string, ggufKey: string) => {
    const content = specialContent(tokConfig[key]);
    const cfgId = modelConfig[cfgKey];
    const id = content !== undefined ? tokens.indexOf(content) : Array.isArray(cfgId) ? cfgId[0] : cfgId;
    if (typeof id === 'number' && id >= 0) out.set(ggufKey, meta.u32(id));
  };
  idOf('bos_token', 'bos_token_id', 'tokenizer.ggml.bos_token_id');
  idOf('eos_token', 'eos_token_id', 'tokenizer.ggml.eos_token_id');
  idOf('pad_token', 'pad_token_id', 'tokenizer.ggml.padding_token_id');
  if (typeof tokConfig.add_bos_token === 'boolean') out.set('tokenizer.ggml.add_bos_token', meta.bool(tokConfig.add_bos_token));
  const tpl = tokConfig.chat_template;
  if (typeof tpl === 'string') out.set('tokenizer.chat_template', meta.str(tpl));
  return out;
}

/** A special or added token of a byte-level BPE vocabulary. */
export interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly special: boolean;
}

/**
 * A tokenizer.json object (for @huggingface/tokenizers) of a byte-level BPE vocabulary, llama.cpp's `gpt2`
 * model: `pre` names llama.cpp's pre-tokenizer (its regex split before the byte-level step; GPT-2's own
 * split where the name is unknown).
 */
export function byteLevelBpeJson(vocab: Record<string, number>, merges: readonly string[], added: readonly AddedToken[], pre: string): object {
  const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: useRegex });
  const regex = PRE_REGEX[pre];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map((t) => ({ ...t, single_word: false, lstrip: false, rstrip: false, normalized: false })),
    normalizer: null,
    pre_tokenizer: regex
      ? { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, byteLevel(false)] }
      : byteLevel(true),
    post_processor: null,
    decoder: byteLevel(true),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/** tokenizer.json / tokenizer_config.json rebuilt from the tokenizer.* metadata of a `gpt2` GGUF vocabulary. */
export function tokenizerFromGGUF(md: ReadonlyMap<string, GGUFValue>, where = 'model.gguf'): GGUFTokenizer {
  const model = md.get('tokenizer.ggml.model');
  const tokens = md.get('tokenizer.ggml.tokens');
  if (model === undefined || !Array.isArray(tokens)) throw new InvalidModelError(`${where}: the GGUF file has no tokenizer (tokenizer.ggml.model / tokens)`);
  if (model !== 'gpt2')
    throw new UnsupportedModelError(`${where}: GGUF tokenizer model ${String(model)} is not supported (weblm reads byte-level BPE, 'gpt2')`);
  const types = (md.get('tokenizer.ggml.token_type') as number[] | undefined) ?? [];
  const merges = (md.get('tokenizer.ggml.merges') as string[] | undefined) ?? [];
  const vocab: Record<string, number> = {};
  const added: AddedToken[] = [];
  tokens.forEach((t, id) => {
    const type = types[id] ?? GGUFTokenType.NORMAL;
    if (type === GGUFTokenType.CONTROL || type === GGUFTokenType.USER_DEFINED) {
      added.push({ id, content: String(t), special: type === GGUFTokenType.CONTROL });
    } else if (type !== GGUFTokenType.UNUSED) vocab[String(t)] = id;
  });
  const pre = String(md.get('tokenizer.ggml.pre') ?? 'default');
  const tokenizerJson = byteLevelBpeJson(vocab, merges, added, pre);
  const tokenAt = (key: string) => {
    const id = md.get(key);
    return typeof id === 'number' ? String(tokens[id]) : undefined;
  };
  const tpl = md.get('tokenizer.chat_template');
  const addBos = md.get('tokenizer.ggml.add_bos_token');
  return {
    tokenizerJson,
    tokenizerConfig: {
      bos_token: tokenAt('tokenizer.ggml.bos_token_id'),
      eos_token: tokenAt('tokenizer.ggml.eos_token_id'),
      pad_token: tokenAt('tokenizer.ggml.padding_token_id'),
      chat_template: typeof tpl === 'string' ? tpl : undefined,
      add_bos_token: typeof addBos === 'boolean' ? addBos : undefined,
    },
  };
}
