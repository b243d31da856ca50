import { expose, releaseProxy, transfer, type Endpoint } from 'comlink';
import { snapshotBuffers } from '../engine/cacheSnapshot.js';
import type { Engine } from '../engine/types.js';
import { installErrorTransfer } from './errorTransfer.js';
import type { WorkerApi } from './protocol.js';

/** The worker side: serves `engine` to a page through comlink on `endpoint` (the worker's global scope). */
export function exposeEngine(engine: Engine, endpoint: Endpoint): WorkerApi {
  installErrorTransfer();
  const aborts = new Map<number, AbortController>();
  const streams = new Map<number, AsyncIterator<unknown>>();
  const controller = (opId: number) => {
    const c = new AbortController();
    aborts.set(opId, c);
    return c.signal;
  };
  const done = (opId: number) => {
    aborts.delete(opId);
    streams.delete(opId);
  };

  const api: WorkerApi = {
    async load(opId, source, options, progress) {
      const signal = controller(opId);
      try {
        return await engine.load(source, { ...options, signal, onProgress: progress ? (p) => void progress(p) : undefined });
      } finally {
        done(opId);
        (progress as { [releaseProxy]?: () => void } | undefined)?.[releaseProxy]?.();
      }
    },
    unload: () => engine.unload(),
    info: () => engine.info(),
    async generate(opId, input, options) {
      streams.set(opId, engine.generate(input, { ...options, signal: controller(opId) }));
    },
    async chat(opId, request) {
      const signal = controller(opId);
      if (request.stream) {
        const it = (await engine.chat.completions.create({ ...request, stream: true, signal }))[Symbol.asyncIterator]();
        streams.set(opId, it);
        return 'stream';
      }
      try {
        return await engine.chat.completions.create({ ...request, stream: false, signal });
      } finally {
        done(opId);
      }
    },
    async next(opId) {
      const it = streams.get(opId);
      if (!it) return { done: true, value: undefined };
      try {
        const r = await it.next();
        if (r.done) done(opId);
        return r.done ? { done: true, value: undefined } : r;
      } catch (err) {
        done(opId);
        throw err;
      }
    },
    async close(opId) {
      const it = streams.get(opId);
      done(opId);
      await it?.return?.();
    },
    abort(opId) {
      aborts.get(opId)?.abort();
    },
    async exportCache() {
      const snap = await engine.exportCache();
      return transfer(snap, snapshotBuffers(snap));
    },
    importCache: (snapshot) => engine.importCache(snapshot),
    dispose: () => engine.dispose(),
  };
  expose(api, endpoint);
  return api;
}
