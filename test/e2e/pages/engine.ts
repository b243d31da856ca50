// The engine through its worker, driven by test/e2e/engine.test.ts: each function returns plain data.
import { createEngine, type Engine, type GenerateChunk } from '../../../src/index.js';
import * as errors from '../../../src/errors.js';

let engine: Engine | undefined;
const get = () => (engine ??= createEngine());

async function collect(it: AsyncIterable<GenerateChunk>, abortAfter?: { n: number; ac: AbortController }) {
  const chunks: GenerateChunk[] = [];
  for await (const c of it) {
    chunks.push(c);
    if (abortAfter && chunks.length === abortAfter.n) abortAfter.ac.abort();
  }
  return chunks;
}

/** How an error arrived on the page: its class as `instanceof` sees it, and its fields. */
function describeError(e: unknown) {
  const err = e as Error & { code?: string };
  const cls = Object.entries(errors.errorClasses).find(([name, c]) => err instanceof c && name === err.name);
  return {
    name: err.name,
    message: err.message,
    stack: err.stack ?? '',
    code: err.code,
    instanceOfClass: cls?.[0],
    isWebLMError: err instanceof errors.WebLMError,
  };
}

const api = {
  async load(url: string) {
    const progress: number[] = [];
    const info = await get().load(url, { onProgress: (p) => progress.push(p.loaded) });
    return { info, progressEvents: progress.length };
  },
  async generate(ids: number[], maxTokens: number, abortAfter?: number) {
    const ac = new AbortController();
    const chunks = await collect(get().generate({ ids }, { temperature: 0, maxTokens, signal: ac.signal }), abortAfter ? { n: abortAfter, ac } : undefined);
    return chunks;
  },
  async chat(messages: { role: string; content: string }[], maxTokens: number) {
    const stream = await get().chat.completions.create({
      messages,
      max_tokens: maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const full = await get().chat.completions.create({ messages, max_tokens: maxTokens, temperature: 0 });
    return { chunks, full };
  },
  async info() {
    return get().info();
  },
  /** Runs `what` and reports the error it throws (or null). */
  async failure(what: 'missing' | 'badIds' | 'unsupported' | 'abortedLoad', url: string) {
    try {
      if (what === 'missing') await get().load(url);
      else if (what === 'unsupported') await get().load(url);
      else if (what === 'abortedLoad') {
        const ac = new AbortController();
        ac.abort();
        await get().load(url, { signal: ac.signal });
      } else await collect(get().generate({ ids: [1_000_000] }));
      return null;
    } catch (e) {
      return describeError(e);
    }
  },
};

(window as unknown as { engineApi: typeof api }).engineApi = api;
(window as unknown as { engineReady: boolean }).engineReady = true;
