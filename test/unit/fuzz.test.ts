import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { chatPlan } from '../../src/engine/chatCompletions.js';
import type { ChatCompletionRequest } from '../../src/engine/openaiTypes.js';
import { openModel } from '../../src/engine/openModel.js';
import { WebLMError } from '../../src/errors.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import type { ModelFiles } from '../../src/weights/files.js';
import { byteTokenizerConfig, byteTokenizerJson } from '../e2e/pages/engineTokenizer.js';
import { fixtureDir, fixtureWithTokenizer } from '../helpers/fixtures.js';

// Property tests of every parser of untrusted input: random and mutated inputs end in a result or a typed
// error (a WebLMError), never an untyped exception or a hang. A few hundred cases in CI; WEBLM_FUZZ_RUNS=10000 for more.
const RUNS = Number(process.env.WEBLM_FUZZ_RUNS ?? 200);
const CASE_MS = 10_000;

/** Whether `f` ends (within CASE_MS) in a value or a WebLMError; throws what it threw otherwise. */
async function endsTyped(f: () => unknown): Promise<true> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CASE_MS} ms: a hang`)), CASE_MS)));
  try {
    await Promise.race([Promise.resolve().then(f), hang]);
  } catch (e) {
    if (!(e instanceof WebLMError)) throw e;
  } finally {
    clearTimeout(timer);
  }
  return true;
}

/** In-memory model files. */
function memFiles(files: Record<string, Uint8Array>): ModelFiles {
  const get = (p: string) => {
    const f = files[p];
    if (!f) throw new Error(`test: no ${p}`);
    return f;
  };
  return {
    location: 'mem',
    has: async (p) => p in files,
    text: async (p) => new TextDecoder().decode(get(p)),
    open: async (p) => {
      const bytes = get(p);
      return {
        size: bytes.byteLength,
        read: async (o, l) => {
          if (o < 0 || l < 0 || o + l > bytes.byteLength) throw new (await import('../../src/errors.js')).InvalidModelError(`read past the end`);
          return bytes.slice(o, o + l);
        },
      };
    },
    list: async () => Object.keys(files),
  };
}

/** Byte edits of a file, most of them inside its first `hot` bytes (headers, counts, lengths). */
const edits = (size: number, hot: number) => {
  const at = fc.oneof(fc.nat({ max: Math.max(0, Math.min(size, hot) - 1) }), fc.nat({ max: Math.max(0, size - 1) }));
  return fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant('byte' as const), at, value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('u64' as const), at, value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
      fc.record({ kind: fc.constant('small' as const), at, value: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ kind: fc.constant('cut' as const), at }),
    ),
    { minLength: 1, maxLength: 4 },
  );
};
type Edit = { kind: 'byte' | 'small'; at: number; value: number } | { kind: 'u64'; at: number; value: bigint } | { kind: 'cut'; at: number };

function mutate(original: Uint8Array, list: readonly Edit[]): Uint8Array {
  let b = original.slice();
  for (const e of list) {
    if (e.kind === 'cut') b = b.slice(0, Math.min(e.at, b.byteLength));
    else if (e.at < b.byteLength) {
      if (e.kind === 'u64') {
        const v = new DataView(b.buffer);
        if (e.at + 8 <= b.byteLength) v.setBigUint64(e.at, e.value, true);
      } else if (e.kind === 'small' && e.at + 4 <= b.byteLength) new DataView(b.buffer).setUint32(e.at, e.value, true);
      else b[e.at] = e.value & 255;
    }
  }
  return b;
}

/** openModel (reader, config, tokenizer, chat template) and every tensor read: what a load does before the GPU. */
async function openAndRead(files: ModelFiles, gguf?: string): Promise<void> {
  const m = await openModel(files, gguf);
  for (const name of m.weights.tensors.keys()) await m.weights.read(name);
  m.tokenizer?.chatTemplate?.render([{ role: 'user', content: 'hi' }]);
}

const enc = (s: string) => new TextEncoder().encode(s);

describe('fuzz: model files', () => {
  let gguf: Uint8Array;
  let safetensors: Record<string, Uint8Array>;
  beforeAll(async () => {
    const dir = await fixtureWithTokenizer('llama', 'q8_0');
    gguf = new Uint8Array(await readFile(join(dir, 'model.gguf')));
    const llama = fixtureDir('llama');
    safetensors = {
      'config.json': new Uint8Array(await readFile(join(llama, 'config.json'))),
      'model.safetensors': new Uint8Array(await readFile(join(llama, 'model.safetensors'))),
      'tokenizer.json': enc(JSON.stringify(byteTokenizerJson())),
      'tokenizer_config.json': enc(JSON.stringify(byteTokenizerConfig())),
    };
  });

  it('the unmutated files open', async () => {
    await openAndRead(memFiles({ 'model.gguf': gguf }), 'model.gguf');
    await openAndRead(memFiles(safetensors));
  });

  it('mutated GGUF files end in a model or a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(edits(gguf.byteLength, 4096), (list) =>
        endsTyped(() => openAndRead(memFiles({ 'model.gguf': mutate(gguf, list as Edit[]) }), 'model.gguf')),
      ),
      { numRuns: RUNS },
    );
  });

  it('random bytes as a GGUF file end in a typed error', async () => {
    const header = gguf.slice(0, 8); // magic and version, so the reader goes on into the counts
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, keep) => {
        const file = keep ? new Uint8Array([...header, ...bytes]) : bytes;
        return endsTyped(() => openAndRead(memFiles({ 'model.gguf': file }), 'model.gguf'));
      }),
      { numRuns: RUNS },
    );
  });

  it('mutated safetensors files end in a model or a typed error', async () => {
    const st = safetensors['model.safetensors']!;
    const headerBytes = 8 + Number(new DataView(st.buffer, st.byteOffset).getBigUint64(0, true));
    await fc.assert(
      fc.asyncProperty(edits(st.byteLength, headerBytes), (list) =>
        endsTyped(() => openAndRead(memFiles({ ...safetensors, 'model.safetensors': mutate(st, list as Edit[]) }))),
      ),
      { numRuns: RUNS },
    );
  });

  it('mutated config.json, tokenizer.json and tokenizer_config.json end in a model or a typed error', async () => {
    const names = ['config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), fc.nat(), edits(1 << 20, 1 << 20), (name, seed, list) => {
        const original = safetensors[name]!;
        const scaled = (list as Edit[]).map((e) => ({ ...e, at: (e.at + seed) % original.byteLength }));
        return endsTyped(() => openAndRead(memFiles({ ...safetensors, [name]: mutate(original, scaled) })));
      }),
      { numRuns: RUNS },
    );
  });

  it('JSON of the wrong shape in config.json and the tokenizer files ends in a model or a typed error', async () => {
    const config = JSON.parse(new TextDecoder().decode(safetensors['config.json'])) as Record<string, unknown>;
    const tokConfig = byteTokenizerConfig() as Record<string, unknown>;
    const field = (o: Record<string, unknown>) => fc.tuple(fc.constantFrom(...Object.keys(o)), fc.jsonValue());
    await fc.assert(
      fc.asyncProperty(
        fc.array(field(config), { maxLength: 3 }),
        fc.array(field(tokConfig), { maxLength: 2 }),
        fc.option(fc.jsonValue()),
        (c, t, tokenizer) => {
          const files = {
            ...safetensors,
            'config.json': enc(JSON.stringify({ ...config, ...Object.fromEntries(c) })),
            'tokenizer_config.json': enc(JSON.stringify({ ...tokConfig, ...Object.fromEntries(t) })),
            ...(tokenizer === null ? {} : { 'tokenizer.json': enc(JSON.stringify(tokenizer)) }),
          };
          return endsTyped(() => openAndRead(memFiles(files)));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('fuzz: chat templates and OpenAI requests', () => {
  const template = byteTokenizerConfig().chat_template;

  it('mutated chat templates end in a rendering or a typed error', async () => {
    const chars = fc.constantFrom('{', '}', '%', '#', '-', ' ', '(', ')', '[', ']', '|', '"', "'", '.', 'x', 'if', 'for', 'endfor', 'endif', 'set', '\n');
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.nat({ max: 40 }), fc.array(chars, { maxLength: 6 }), (at, drop, insert) => {
        const i = at % (template.length + 1);
        const source = template.slice(0, i) + insert.join('') + template.slice(i + drop);
        return endsTyped(() => {
          const tok = new TextTokenizer(byteTokenizerJson(), { ...byteTokenizerConfig(), chat_template: source });
          tok.chatTemplate?.render([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true });
        });
      }),
      { numRuns: RUNS },
    );
  });

  const tok = new TextTokenizer(byteTokenizerJson(), byteTokenizerConfig());
  const anyValue = fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.constant(NaN), fc.constant(-1), fc.constant(1e300));
  const message = fc.oneof(
    fc.record({ role: fc.constantFrom('system', 'user', 'assistant', 'tool', 'bogus'), content: fc.oneof(fc.string(), fc.constant(null), anyValue) }),
    fc.dictionary(fc.constantFrom('role', 'content', 'tool_calls', 'name', 'tool_call_id'), anyValue),
    anyValue,
  );
  const field = fc.constantFrom(
    'model',
    'stream',
    'stream_options',
    'max_tokens',
    'max_completion_tokens',
    'temperature',
    'top_p',
    'top_k',
    'min_p',
    'frequency_penalty',
    'presence_penalty',
    'repetition_penalty',
    'seed',
    'stop',
    'tools',
    'tool_choice',
    'parallel_tool_calls',
    'response_format',
    'n',
    'chat_template_kwargs',
    'unknown_field',
  );
  const tool = fc.record(
    {
      type: fc.oneof(fc.constant('function'), anyValue),
      function: fc.record({ name: fc.oneof(fc.string(), anyValue), parameters: anyValue }, { requiredKeys: [] }),
    },
    { requiredKeys: [] },
  );

  it('random requests end in a plan whose messages render, or a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.array(message, { maxLength: 4 }), anyValue),
        fc.dictionary(
          field,
          fc.oneof(anyValue, fc.array(tool, { maxLength: 2 }), fc.record({ type: fc.constantFrom('text', 'json_object', 'json_schema', 'x') })),
        ),
        fc.boolean(),
        (messages, rest, notObject) =>
          endsTyped(() => {
            const req = (notObject ? messages : { ...rest, messages }) as ChatCompletionRequest;
            const plan = chatPlan(req, template);
            tok.chatTemplate!.render(plan.messages, { addGenerationPrompt: true, tools: plan.tools });
          }),
      ),
      { numRuns: RUNS },
    );
  });
});

it('the fuzzer counts its cases from WEBLM_FUZZ_RUNS', () => {
  expect(RUNS).toBeGreaterThan(0);
});
