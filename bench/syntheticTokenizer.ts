import { byteLevelBpeJson, PRE_REGEX } from '../src/weights/ggufTokenizer.js';

/** GPT-2's byte → printable character map (the alphabet of byte-level BPE). */
function byteChars(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++);
  return out;
}

export interface SyntheticTokenizer {
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
}

/**
 * A byte-level BPE tokenizer (llama.cpp's `gpt2` model) with `normal` ordinary tokens: the 256 byte
 * characters, then merges of two earlier tokens in order (every pair of bytes, then longer), and the special
 * tokens at their ids. Random-weight benchmark models carry it so that weblm and llama.cpp load the same
 * file; its merges are valid, its text meaningless.
 */
export function syntheticTokenizer(
  normal: number,
  specials: ReadonlyMap<number, string>,
  pre: keyof typeof PRE_REGEX,
  bos?: string,
  eos?: string,
): SyntheticTokenizer {
  const bytes = byteChars();
  const vocab: Record<string, number> = {};
  const tokens: string[] = [];
  const add = (t: string) => {
    vocab[t] = tokens.length;
    tokens.push(t);
  };
  bytes.forEach(add);
  const merges: string[] = [];
  // Pairs (left, right) with left over the tokens so far and right over the bytes: unique strings, each the
  // merge of two tokens that exist.
  for (let left = 0; tokens.length < normal; left++) {
    for (let b = 0; b < 256 && tokens.length < normal; b++) {
      const t = tokens[left]! + bytes[b]!;
      if (Object.hasOwn(vocab, t)) continue;
      merges.push(`${tokens[left]} ${bytes[b]}`);
      add(t);
    }
  }
  const added = [...specials].map(([id, content]) => ({ id, content, special: true }));
  const tokenizerJson = byteLevelBpeJson(vocab, merges, added, pre) as Record<string, unknown>;
  return { tokenizerJson, tokenizerConfig: { bos_token: bos, eos_token: eos, add_bos_token: false } };
}
