import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk, EngineInfo, GenerateChunk } from '../../src/index.js';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { byteTokenizerConfig, byteTokenizerJson } from './pages/engineTokenizer.js';

/**
 * A static server on 127.0.0.1 for the fixture models, with Range and CORS: /qwen2/ is the fixture as it
 * is; /qwen2-chat/ adds the byte-level tokenizer (tokenizer.json, tokenizer_config.json); /tokenizers/ has
 * no config.json; /unsupported/ has a config.json of an unknown model_type.
 */
async function startModelServer(): Promise<{ server: Server; base: string }> {
  const extra: Record<string, string> = {
    'tokenizer.json': JSON.stringify(byteTokenizerJson()),
    'tokenizer_config.json': JSON.stringify(byteTokenizerConfig()),
  };
  const server = createServer(async (req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Accept-Ranges');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const [, folder, ...rest] = decodeURIComponent(new URL(req.url!, 'http://x').pathname).split('/');
    const file = rest.join('/');
    let body: Buffer;
    try {
      if (file.includes('..')) throw new Error('no');
      if (folder === 'unsupported') {
        if (file !== 'config.json') throw new Error('404');
        body = Buffer.from(JSON.stringify({ model_type: 'not_a_model', architectures: ['NotAModelForCausalLM'], vocab_size: 16 }));
      } else if (folder === 'qwen2-chat' && file in extra) body = Buffer.from(extra[file]!);
      else body = await readFile(join(FIXTURES, folder === 'qwen2-chat' ? 'qwen2' : folder!, file));
    } catch {
      return void res.writeHead(404).end();
    }
    const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
    res.setHeader('Accept-Ranges', 'bytes');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${body.length}`, 'Content-Length': end - start + 1 });
      return void res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1));
    }
    res.writeHead(200, { 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { server, base: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` };
}

/** I32 tensors of the fixture's expected.safetensors. */
async function readI32(path: string, name: string): Promise<number[]> {
  const buf = await readFile(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
  const [a, b] = header[name]!.data_offsets;
  const bytes = buf.subarray(8 + n + a, 8 + n + b);
  return Array.from(new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
}

type Api = {
  load(url: string): Promise<{ info: EngineInfo; progressEvents: number }>;
  generate(ids: number[], maxTokens: number, abortAfter?: number): Promise<GenerateChunk[]>;
  chat(messages: { role: string; content: string }[], maxTokens: number): Promise<{ chunks: ChatCompletionChunk[]; full: ChatCompletion }>;
  info(): Promise<EngineInfo | undefined>;
  failure(
    what: string,
    url: string,
  ): Promise<null | { name: string; message: string; stack: string; code?: string; instanceOfClass?: string; isWebLMError: boolean }>;
};

describe('the engine in a Web Worker (headless Chromium)', () => {
  let rig: BrowserRig;
  let models: { server: Server; base: string };
  let page: Page;
  const call = <K extends keyof Api>(name: K, ...args: Parameters<Api[K]>) =>
    page.evaluate(([n, a]) => (window as unknown as { engineApi: Record<string, (...x: unknown[]) => unknown> }).engineApi[n as string]!(...(a as unknown[])), [
      name,
      args,
    ] as const) as ReturnType<Api[K]>;
  let prompt: number[];
  let greedy: number[];

  beforeAll(async () => {
    prompt = await readI32(join(FIXTURES, 'qwen2/expected.safetensors'), 'input_ids');
    greedy = await readI32(join(FIXTURES, 'qwen2/expected.safetensors'), 'greedy_ids');
    models = await startModelServer();
    rig = await startBrowserRig();
    page = await rig.open('/test/e2e/pages/engine.html');
    await page.waitForFunction(() => (window as unknown as { engineReady?: boolean }).engineReady === true);
  });
  afterAll(async () => {
    await rig?.close();
    models?.server.close();
  });

  it('loads a model from a URL and streams the reference greedy tokens chunk by chunk', async () => {
    const { info, progressEvents } = await call('load', `${models.base}/qwen2/`);
    expect(info.modelType).toBe('qwen2');
    expect(progressEvents).toBeGreaterThan(0); // onProgress crossed the worker as a comlink proxy
    const chunks = await call('generate', prompt, greedy.length);
    expect(chunks.length).toBe(greedy.length + 1);
    expect(chunks.flatMap((c) => c.tokenIds)).toEqual(greedy);
    expect(chunks.at(-1)!.finishReason).toBe('length');
    expect(chunks.at(-1)!.stats!.generatedTokens).toBe(greedy.length);
  });

  it('aborts mid-stream from the page within one token', async () => {
    const chunks = await call('generate', prompt, 20, 3);
    expect(chunks.at(-1)!.finishReason).toBe('abort');
    expect(chunks.at(-1)!.stats!.generatedTokens).toBeLessThanOrEqual(4);
  });

  it('reuses the KV cache of the shared prefix on a second turn', async () => {
    await call('generate', prompt, 10);
    const second = [...prompt, ...greedy.slice(0, 8)];
    const chunks = await call('generate', second, 4);
    const stats = chunks.at(-1)!.stats!;
    expect(stats.cachedPromptTokens).toBe(second.length - 1); // prefill saved: all but the last token
    expect(stats.prefillTokens).toBe(1);
    expect(chunks.flatMap((c) => c.tokenIds)).toEqual(greedy.slice(8, 12));
  });

  it('streams OpenAI chat chunks with reasoning_content and usage through the worker', async () => {
    await call('load', `${models.base}/qwen2-chat/`);
    const { chunks, full } = await call('chat', [{ role: 'user', content: 'Hi' }], 10);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(full.usage.completion_tokens);
    const reasoning = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.reasoning_content ?? '')).join('');
    const content = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? '')).join('');
    expect(reasoning).toBe(full.choices[0]!.message.reasoning_content);
    expect(content).toBe(full.choices[0]!.message.content);
    expect(full.usage.prompt_tokens_details!.cached_tokens).toBe(full.usage.prompt_tokens - 1);
  });

  it('keeps the class, message, code and stack of errors thrown in the worker', async () => {
    const missing = await call('failure', 'missing', `${models.base}/nothing-here/`);
    expect(missing).toMatchObject({ name: 'ModelNotFoundError', instanceOfClass: 'ModelNotFoundError', code: 'MODEL_NOT_FOUND', isWebLMError: true });
    expect(missing!.stack).toMatch(/httpFiles|worker/i);
    const badIds = await call('failure', 'badIds', '');
    expect(badIds).toMatchObject({ name: 'InvalidArgumentError', instanceOfClass: 'InvalidArgumentError', code: 'INVALID_ARGUMENT' });
    const unsupported = await call('failure', 'unsupported', `${models.base}/unsupported/`);
    expect(unsupported).toMatchObject({ name: 'UnsupportedModelError', instanceOfClass: 'UnsupportedModelError', code: 'UNSUPPORTED_MODEL' });
    const aborted = await call('failure', 'abortedLoad', `${models.base}/qwen2/`);
    expect(aborted).toMatchObject({ name: 'AbortError', instanceOfClass: 'AbortError', code: 'ABORTED' });
  });
});
