import { Tokenizer } from '@huggingface/tokenizers';
import { InvalidModelError } from '../errors.js';
import type { ModelFiles } from '../weights/files.js';
import { ChatTemplate } from './chatTemplate.js';

/** tokenizer_config.json, the fields weblm reads. Special tokens are strings or AddedToken objects. */
export interface TokenizerConfig {
  readonly bos_token?: string | { content: string } | null;
  readonly eos_token?: string | { content: string } | null;
  readonly pad_token?: string | { content: string } | null;
  readonly unk_token?: string | { content: string } | null;
  readonly chat_template?: string | readonly { name: string; template: string }[] | null;
  readonly [key: string]: unknown;
}

/** The `content` string of a special token entry of tokenizer_config.json. */
export function tokenContent(t: TokenizerConfig['bos_token']): string | undefined {
  if (t == null) return undefined;
  return typeof t === 'string' ? t : t.content;
}

/**
 * A Hugging Face tokenizer (tokenizer.json through `@huggingface/tokenizers`) with its chat template
 * (tokenizer_config.json or chat_template.jinja, rendered with `@huggingface/jinja`).
 */
export class TextTokenizer {
  private readonly tok: Tokenizer;
  /** Ids of special tokens (control tokens such as <|im_end|>), skipped when decoding for display. */
  readonly specialIds: ReadonlySet<number>;
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly chatTemplate: ChatTemplate | undefined;
  /** How token strings map to text, for a grammar matcher (xgrammar's vocab types), from tokenizer.json's decoder. */
  readonly vocabType: 'byte_level' | 'byte_fallback' | 'raw';
  /** The tokenizer prepends a space to the text (sentencepiece-style Metaspace or Prepend('▁')). */
  readonly prependsSpace: boolean;

  constructor(
    tokenizerJson: object,
    readonly config: TokenizerConfig = {},
    chatTemplateOverride?: string,
  ) {
    try {
      this.tok = new Tokenizer(tokenizerJson, config);
    } catch (cause) {
      throw new InvalidModelError(`tokenizer.json could not be read: ${(cause as Error).message}`, { cause });
    }
    const special = new Set<number>();
    for (const [id, t] of this.tok.get_added_tokens_decoder()) if (t.special) special.add(id);
    this.specialIds = special;
    const decoder = JSON.stringify((tokenizerJson as { decoder?: unknown }).decoder ?? null);
    this.vocabType = decoder.includes('"ByteLevel"') ? 'byte_level' : decoder.includes('"ByteFallback"') ? 'byte_fallback' : 'raw';
    const front = JSON.stringify([(tokenizerJson as { normalizer?: unknown }).normalizer, (tokenizerJson as { pre_tokenizer?: unknown }).pre_tokenizer]);
    this.prependsSpace = this.vocabType !== 'byte_level' && /"type":"Prepend"|"prepend_scheme":"(always|first)"|"add_prefix_space":true/.test(front);
    this.bosToken = tokenContent(config.bos_token);
    this.eosToken = tokenContent(config.eos_token);
    const source = chatTemplateOverride ?? pickTemplate(config.chat_template);
    this.chatTemplate = source
      ? new ChatTemplate(source, {
          bos_token: this.bosToken ?? '',
          eos_token: this.eosToken ?? '',
          pad_token: tokenContent(config.pad_token) ?? '',
          unk_token: tokenContent(config.unk_token) ?? '',
        })
      : undefined;
  }

  /** From a model's files: tokenizer.json, plus tokenizer_config.json and chat_template.jinja when present. */
  static async fromFiles(files: ModelFiles): Promise<TextTokenizer> {
    const json = parseJson(await files.text('tokenizer.json'), `${files.location}/tokenizer.json`) as object;
    const config = (await files.has('tokenizer_config.json'))
      ? jsonObject(await files.text('tokenizer_config.json'), `${files.location}/tokenizer_config.json`)
      : {};
    let jinja = (await files.has('chat_template.jinja')) ? await files.text('chat_template.jinja') : undefined;
    // Vision repos (llava-hf) keep the processor's template in chat_template.json.
    if (!jinja && !config.chat_template && (await files.has('chat_template.json'))) {
      jinja = jsonObject(await files.text('chat_template.json'), `${files.location}/chat_template.json`).chat_template as string | undefined;
    }
    return new TextTokenizer(json, config, config.chat_template ? undefined : jinja);
  }

  /** Token ids of `text`; special-token strings in the text map to their ids. */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids;
  }

  /**
   * Token ids of a plain-text prompt: special tokens as the tokenizer adds them, and the BOS id first where
   * tokenizer_config.json asks for it (add_bos_token) and the tokenizer's post-processor did not add it.
   */
  encodePrompt(text: string, bosTokenId: number | undefined): number[] {
    const ids = this.encode(text, { addSpecialTokens: true });
    if (this.config.add_bos_token === true && bosTokenId !== undefined && ids[0] !== bosTokenId) ids.unshift(bosTokenId);
    return ids;
  }

  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    return this.tok.decode(ids as number[], { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** The token strings by id as tokenizer.json spells them (added tokens included; '' where no token has the id). */
  tokens(size = this.vocabSize): string[] {
    const out = new Array<string>(size).fill('');
    for (const [t, id] of this.tok.get_vocab(true)) if (id < size) out[id] = t;
    return out;
  }

  /** Largest token id + 1 (the vocab including added tokens). */
  get vocabSize(): number {
    let max = -1;
    for (const id of this.tok.get_vocab(true).values()) if (id > max) max = id;
    return max + 1;
  }
}

function pickTemplate(t: TokenizerConfig['chat_template']): string | undefined {
  if (!t) return undefined;
  if (typeof t === 'string') return t;
  const named = Array.isArray(t) && t.every((x) => typeof x === 'object' && x !== null && typeof x.template === 'string');
  if (!named) throw new InvalidModelError('tokenizer_config.json: chat_template is neither a string nor a list of { name, template }');
  return (t.find((x) => x.name === 'default') ?? t[0])?.template;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new InvalidModelError(`${where} is not valid JSON`, { cause });
  }
}

function jsonObject(text: string, where: string): TokenizerConfig {
  const v = parseJson(text, where);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidModelError(`${where} is not a JSON object`);
  return v as TokenizerConfig;
}
