/**
 * A real byte-level BPE tokenizer (GPT-2's byte-to-unicode map, no merges) whose vocabulary fits the
 * fixture models' 512 ids: bytes are ids 0..255, then a few added tokens. The fixtures ship no tokenizer,
 * and the published ones (151k ids) do not fit a 512-token model. Used by the unit and e2e engine tests.
 */
export const ADDED_TOKENS = ['<|im_start|>', '<|im_end|>', '<think>', '</think>'] as const;
/** Id of an added token: 256 + its index. */
export const addedId = (t: (typeof ADDED_TOKENS)[number]) => 256 + ADDED_TOKENS.indexOf(t);

function byteToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const map: string[] = [];
  bs.forEach((b, i) => (map[b] = String.fromCodePoint(cs[i]!)));
  return map;
}

export function byteTokenizerJson(): object {
  const vocab: Record<string, number> = {};
  byteToUnicode().forEach((ch, b) => (vocab[ch] = b));
  ADDED_TOKENS.forEach((t, i) => (vocab[t] = 256 + i));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ADDED_TOKENS.map((content, i) => ({
      id: 256 + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: content.startsWith('<|'),
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: [],
    },
  };
}

/** A ChatML template whose generation prompt opens <think> (as DeepSeek-R1's does). */
export function byteTokenizerConfig(): { eos_token: string; chat_template: string } {
  return {
    eos_token: '<|im_end|>',
    chat_template:
      "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}" +
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n<think>\\n' }}{% endif %}",
  };
}
