// Device loss through the worker engine, driven by test/e2e/deviceLoss.test.ts: the page streams a generation
// from a WorkerEngine, the worker's device is destroyed after a few chunks, and the engine loads again.
import { WorkerEngine, type GenerateChunk } from '../../../src/index.js';

const worker = new Worker(new URL('./deviceLossWorker.ts', import.meta.url), { type: 'module' });
const engine = new WorkerEngine(worker);

/** Asks the worker's test hook and waits for its answer. */
function hook(message: 'lose-device' | 'contexts'): Promise<{ contexts: number }> {
  return new Promise((resolve) => {
    const on = (ev: MessageEvent) => {
      if (ev.data && typeof ev.data === 'object' && 'contexts' in ev.data) {
        worker.removeEventListener('message', on);
        resolve(ev.data as { contexts: number });
      }
    };
    worker.addEventListener('message', on);
    worker.postMessage(message);
  });
}

const api = {
  async load(url: string) {
    return engine.load(url, { maxContext: 128 });
  },
  /** Streams `maxTokens` tokens, destroying the device after `loseAfter` chunks: what arrived and how it ended. */
  async generate(ids: number[], maxTokens: number, loseAfter?: number) {
    const chunks: GenerateChunk[] = [];
    try {
      for await (const c of engine.generate({ ids }, { temperature: 0, maxTokens })) {
        chunks.push(c);
        if (chunks.length === loseAfter) await hook('lose-device');
      }
      return { chunks: chunks.length, finishReason: chunks.at(-1)?.finishReason, error: null };
    } catch (e) {
      const err = e as Error & { code?: string };
      return { chunks: chunks.length, finishReason: undefined, error: { name: err.name, code: err.code, message: err.message } };
    }
  },
  contexts: async () => (await hook('contexts')).contexts,
};

(globalThis as unknown as { weblmDeviceLoss: typeof api }).weblmDeviceLoss = api;
(globalThis as unknown as { weblmReady: boolean }).weblmReady = true;
