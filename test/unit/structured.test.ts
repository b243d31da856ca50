import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenMatcher } from '../../src/engine/grammar.js';
import { LocalEngine } from '../../src/engine/localEngine.js';
import type { ChatCompletion, ChatCompletionChunk } from '../../src/engine/openaiTypes.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import { byteTokenizerJson } from '../e2e/pages/engineTokenizer.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { editedFixture } from '../helpers/fixtures.js';
import { rng } from '../helpers/random.js';

// ChatML with the Hermes tool block of Qwen's templates (tools listed, calls in <tool_call> tags).
const TEMPLATE =
  "{% if tools %}{{ '<|im_start|>system\\n<tools>' }}{% for t in tools %}{{ t.function.name }} {% endfor %}{{ '</tools>\\n<tool_call>{...}</tool_call><|im_end|>\\n' }}{% endif %}" +
  "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + (m.content or '') + '<|im_end|>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

type Schema = Record<string, unknown>;

/** The schema rules the tests use, checked on a parsed value: a list of what does not match (empty: it matches). */
function mismatches(v: unknown, s: Schema, at = '$'): string[] {
  const out: string[] = [];
  if (s.enum) return (s.enum as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(v)) ? [] : [`${at} not in enum`];
  switch (s.type) {
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${at} not an object`];
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const k of (s.required as string[]) ?? []) if (!(k in v)) out.push(`${at}.${k} missing`);
      for (const [k, x] of Object.entries(v)) {
        if (props[k]) out.push(...mismatches(x, props[k]!, `${at}.${k}`));
        else if (s.additionalProperties === false || Object.keys(props).length) out.push(`${at}.${k} not in properties`);
      }
      return out;
    }
    case 'array':
      if (!Array.isArray(v)) return [`${at} not an array`];
      if (typeof s.maxItems === 'number' && v.length > s.maxItems) out.push(`${at} too long`);
      if (typeof s.minItems === 'number' && v.length < s.minItems) out.push(`${at} too short`);
      v.forEach((x, i) => out.push(...mismatches(x, s.items as Schema, `${at}[${i}]`)));
      return out;
    case 'string':
      if (typeof v !== 'string') return [`${at} not a string`];
      if (typeof s.maxLength === 'number' && [...v].length > s.maxLength) out.push(`${at} too long`);
      if (typeof s.pattern === 'string' && !new RegExp(`^(?:${s.pattern})$`).test(v)) out.push(`${at} does not match ${s.pattern}`);
      return out;
    case 'integer':
    case 'number':
      if (typeof v !== 'number' || (s.type === 'integer' && !Number.isInteger(v))) return [`${at} not an ${s.type}`];
      if (typeof s.minimum === 'number' && v < s.minimum) out.push(`${at} < minimum`);
      if (typeof s.maximum === 'number' && v > s.maximum) out.push(`${at} > maximum`);
      return out;
    case 'boolean':
      return typeof v === 'boolean' ? [] : [`${at} not a boolean`];
  }
  return [`${at}: schema type ${String(s.type)} not checked by the test`];
}

// Short keys: the byte-level test tokenizer spends a token per character.
const PERSON: Schema = {
  type: 'object',
  properties: {
    e: { enum: ['calm', 'sad'] },
    t: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 9 }, minItems: 1, maxItems: 2 },
    h: {
      type: 'object',
      properties: { z: { type: 'string', pattern: '[0-9]{2}' }, o: { type: 'boolean' }, k: { type: 'integer', minimum: -2, maximum: 9 } },
      required: ['z', 'o', 'k'],
      additionalProperties: false,
    },
    f: { type: 'integer', minimum: 10, maximum: 130 },
  },
  required: ['e', 't', 'h', 'f'],
  additionalProperties: false,
};

/** The byte-level test tokenizer plus <tool_call> and </tool_call> as tokens (as Qwen's vocabulary has them). */
function tokenizerJson(): object {
  const j = byteTokenizerJson() as { added_tokens: object[]; model: { vocab: Record<string, number> } };
  const extra = ['<tool_call>', '</tool_call>'];
  const base = Object.keys(j.model.vocab).length;
  extra.forEach((content, i) => {
    j.model.vocab[content] = base + i;
    j.added_tokens.push({ id: base + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false });
  });
  return j;
}

// The grammar alone, without a model: tokens drawn at random among those each mask allows, over many
// seeds and a 512-id vocabulary (ids past the tokenizer's never allowed), must give JSON of the schema.
describe('TokenMatcher: random walks through the masks', () => {
  const tok = new TextTokenizer(tokenizerJson(), { eos_token: '<|im_end|>' });
  const eos = tok.tokenToId('<|im_end|>')!;
  const schemas: [string, Schema][] = [
    ['nested person', PERSON],
    [
      'bounded strings (control characters stay out)',
      { type: 'object', properties: { s: { type: 'string', minLength: 1, maxLength: 4 }, u: { type: 'string', maxLength: 2 } }, required: ['s', 'u'] },
    ],
    [
      'integers: one-sided and exclusive bounds',
      {
        type: 'object',
        properties: {
          a: { type: 'integer', minimum: 1 },
          b: { type: 'integer', exclusiveMinimum: -4, exclusiveMaximum: 2 },
          c: { type: 'integer', exclusiveMinimum: -1 },
        },
        required: ['a', 'b', 'c'],
      },
    ],
    ['array of objects', { type: 'array', items: { type: 'object', properties: { k: { enum: [1, 2, 'x'] } }, required: ['k'] }, maxItems: 3 }],
  ];
  it.each(schemas)('%s', async (_name, schema) => {
    const m0 = await TokenMatcher.create(tok, 512, [eos], { kind: 'jsonSchema', schema });
    m0.dispose();
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const m = await TokenMatcher.create(tok, 512, [eos], { kind: 'jsonSchema', schema });
      const ids: number[] = [];
      while (!m.terminated && ids.length < 300) {
        const mask = await m.mask();
        const allowed: number[] = [];
        for (let i = 0; i < 512; i++) if ((mask[i >>> 5]! >>> (i & 31)) & 1) allowed.push(i);
        expect(allowed.every((i) => i < tok.vocabSize && !(tok.specialIds.has(i) && i !== eos))).toBe(true);
        // ASCII bytes and the stop token: a random walk over single bytes >= 0x80 can form UTF-8 that
        // xgrammar accepts and the decoder turns into U+FFFD (a model's byte tokens follow real UTF-8).
        const ascii = allowed.filter((i) => i < 128 || i === eos);
        const id = ascii[Math.floor(r() * ascii.length)]!;
        expect(m.accept(id)).toBe(true);
        ids.push(id);
      }
      m.dispose();
      const text = tok.decode(ids.slice(0, -1));
      expect(ids.at(-1), text).toBe(eos);
      expect(mismatches(JSON.parse(text), schema), text).toEqual([]);
    }
  });
});

describe('structured output on the random-weight qwen3 fixture (Dawn)', () => {
  const engine = new LocalEngine({ gpu: () => createNodeGpu() });
  beforeAll(async () => {
    const dir = await editedFixture('qwen3', async (d) => {
      await writeFile(join(d, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
      await writeFile(join(d, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|im_end|>', chat_template: TEMPLATE }));
    });
    await engine.load({ files: folderFiles(dir) });
  });
  afterAll(() => engine.dispose());
  const messages = [{ role: 'user', content: 'Describe a person as JSON.' }] as const;

  it('json_schema: nested objects, arrays, enums and bounded numbers always parse and match (seeds, streamed and not)', async () => {
    const response_format = { type: 'json_schema', json_schema: { name: 'person', schema: PERSON, strict: true } } as const;
    for (const [seed, o] of [[1, { temperature: 1.3, top_k: 50 }]] as const) {
      const c = (await engine.chat.completions.create({ messages: [...messages], response_format, seed, max_tokens: 120, ...o })) as ChatCompletion;
      const text = c.choices[0]!.message.content!;
      expect(c.choices[0]!.finish_reason, text).toBe('stop');
      expect(mismatches(JSON.parse(text), PERSON), text).toEqual([]);
      expect(text).not.toMatch(/\s/); // compact (and no string here can hold a space)
    }
    const stream = (await engine.chat.completions.create({
      messages: [...messages],
      response_format,
      seed: 2,
      temperature: 1.2,
      top_p: 0.9,
      max_tokens: 120,
      stream: true,
    })) as AsyncIterable<ChatCompletionChunk>;
    let streamed = '';
    let finish: string | null = null;
    for await (const ch of stream) {
      streamed += ch.choices[0]?.delta.content ?? '';
      finish = ch.choices[0]?.finish_reason ?? finish;
    }
    expect(finish, streamed).toBe('stop');
    expect(mismatches(JSON.parse(streamed), PERSON), streamed).toEqual([]);
  }, 480_000);

  it('json_object: a JSON object (greedy)', async () => {
    for (const o of [{ temperature: 0 }]) {
      const c = (await engine.chat.completions.create({
        messages: [...messages],
        response_format: { type: 'json_object' },
        max_tokens: 8,
        ...o,
      })) as ChatCompletion;
      const text = c.choices[0]!.message.content!;
      if (c.choices[0]!.finish_reason === 'stop') expect(typeof JSON.parse(text)).toBe('object');
      else expect(text.startsWith('{')).toBe(true); // cut by max_tokens: a prefix of an object
    }
  }, 300_000);

  it('generate with an EBNF grammar and with responseFormat', async () => {
    for (const seed of [1]) {
      let text = '';
      for await (const c of engine.generate('Answer:', { grammar: 'root ::= ("yes" | "no" | "maybe") "!" [0-9]', seed, maxTokens: 20 })) text += c.text;
      expect(text).toMatch(/^(yes|no|maybe)![0-9]$/);
    }
    let json = '';
    const schema = { type: 'object', properties: { k: { type: 'boolean' }, n: { type: 'integer', minimum: 3, maximum: 7 } }, required: ['k', 'n'] };
    for await (const c of engine.generate([...messages], {
      responseFormat: { type: 'json_schema', json_schema: { name: 's', schema } },
      seed: 9,
      maxTokens: 40,
    }))
      json += c.text;
    expect(mismatches(JSON.parse(json), { ...schema, additionalProperties: false })).toEqual([]);
  }, 300_000);

  it('tool_choice required / named: one call whose arguments match the parameters', async () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'w',
          parameters: { type: 'object', properties: { c: { enum: ['Oslo', 'Rome'] }, d: { type: 'integer', minimum: 1, maximum: 3 } }, required: ['c', 'd'] },
        },
      },
      { type: 'function', function: { name: 't', parameters: { type: 'object', properties: { z: { type: 'string', maxLength: 3 } }, required: ['z'] } } },
    ] as const;
    for (const [seed, tool_choice] of [[1, 'required']] as const) {
      const c = (await engine.chat.completions.create({
        messages: [{ role: 'user', content: 'Weather?' }],
        tools,
        tool_choice,
        seed,
        max_tokens: 80,
      })) as ChatCompletion;
      const ch = c.choices[0]!;
      expect(ch.finish_reason).toBe('tool_calls');
      expect(ch.message.content).toBeNull();
      const call = ch.message.tool_calls![0]!;
      expect(call.id).toMatch(/^call_/);
      const tool = tools.find((t) => t.function.name === call.function.name)!;
      if (typeof tool_choice === 'object') expect(call.function.name).toBe('t');
      expect(mismatches(JSON.parse(call.function.arguments), { ...tool.function.parameters, additionalProperties: false })).toEqual([]);
    }
    // Streamed: the call arrives whole in delta.tool_calls, then finish_reason tool_calls.
    const stream = (await engine.chat.completions.create({
      messages: [{ role: 'user', content: 'Time?' }],
      tools,
      tool_choice: { type: 'function', function: { name: 't' } },
      seed: 4,
      max_tokens: 80,
      stream: true,
    })) as AsyncIterable<ChatCompletionChunk>;
    const deltas = [];
    for await (const ch of stream) deltas.push(ch.choices[0]);
    const calls = deltas.flatMap((d) => d?.delta.tool_calls ?? []);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.index).toBe(0);
    expect(deltas.at(-1)!.finish_reason).toBe('tool_calls');
    // The next turn takes the call and its result (role tool).
    const next = (await engine.chat.completions.create({
      messages: [
        { role: 'user', content: 'Time?' },
        { role: 'assistant', content: null, tool_calls: [calls[0]!] },
        { role: 'tool', tool_call_id: calls[0]!.id, content: '{"time":"12:00"}' },
      ],
      tools,
      max_tokens: 4,
      temperature: 0,
    })) as ChatCompletion;
    expect(next.usage.completion_tokens).toBeGreaterThan(0);
  }, 480_000);

  it('refuses what it would not honour with InvalidArgumentError', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ response_format: { type: 'xml' } }, /response_format.type "xml"/],
      [
        { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', patternProperties: { a: {} } } } } },
        /"patternProperties" \(at #\/patternProperties\)/,
      ],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { not: { type: 'string' } } } } }, /"not"/],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: '(?<=a)b' } } } }, /lookaround/],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { $ref: 'http://example.com/s.json' } } } }, /\$ref outside/],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', format: 'color' } } } }, /format "color"/],
      [{ logprobs: true }, /logprobs is not supported/],
      [{ frobnicate: 1 }, /frobnicate/],
      [
        { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'number', maximum: 1 } } } },
        /"maximum" on a number that is not an integer/,
      ],
      [
        { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'integer', minimum: 0, maximum: 1e6 } } } },
        /integer range of more than 4096/,
      ],
      [{ tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } }, /names g/],
      [{ tool_choice: 'required' }, /needs tools/],
    ];
    for (const [extra, message] of bad) {
      const err = await engine.chat.completions.create({ messages: [...messages], max_tokens: 2, ...extra } as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, JSON.stringify(extra)).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(message);
    }
    const gen = engine.generate('x', { grammar: 'root ::= "a" b', maxTokens: 2 });
    await expect(gen.next()).rejects.toBeInstanceOf(InvalidArgumentError);
  }, 60_000);
});
