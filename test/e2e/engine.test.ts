import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk, EngineInfo, GenerateChunk } from '../../src/index.js';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';
import { expectedTensors, FIXTURES } from '../helpers/fixtures.js';
import { serveFiles, type FileServer } from '../helpers/fileServer.js';
import { byteTokenizerConfig, byteTokenizerJson } from './pages/engineTokenizer.js';

/**
 * A static server on 127.0.0.1 for the fixture models, with Range and CORS: /qwen2/ is the fixture as it
 * is; /qwen2-chat/ adds the byte-level tokenizer (tokenizer.json, tokenizer_config.json); /tokenizers/ has
 * no config.json; /unsupported/ has a config.json of an unknown model_type.
 */
function startModelServer(): Promise<FileServer> {
  const extra: Record<string, string> = {
    'tokenizer.json': JSON.stringify(byteTokenizerJson()),
    'tokenizer_config.json': JSON.stringify(byteTokenizerConfig()),
  };
  return serveFiles(async (path) => {
    const [folder, ...rest] = path.split('/');
    const file = rest.join('/');
    if (file.includes('..')) return undefined;
    if (folder === 'unsupported') {
      return file === 'config.json'
        ? Buffer.from(JSON.stringify({ model_type: 'not_a_model', architectures: ['NotAModelForCausalLM'], vocab_size: 16 }))
        : undefined;
    }
    if (folder === 'qwen2-chat' && file in extra) return Buffer.from(extra[file]!);
    return readFile(join(FIXTURES, folder === 'qwen2-chat' ? 'qwen2' : folder!, file));
  });
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
  let models: FileServer;
  let page: Page;
  const call = <K extends keyof Api>(name: K, ...args: Parameters<Api[K]>) =>
    page.evaluate(([n, a]) => (window as unknown as { engineApi: Record<string, (...x: unknown[]) => unknown> }).engineApi[n as string]!(...(a as unknown[])), [
      name,
      args,
    ] as const) as ReturnType<Api[K]>;
  let prompt: number[];
  let greedy: number[];

  beforeAll(async () => {
    const exp = await expectedTensors('qwen2');
    prompt = exp.ids('input_ids');
    greedy = exp.ids('greedy_ids');
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
