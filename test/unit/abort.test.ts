import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalEngine } from '../../src/engine/localEngine.js';
import type { GenerateChunk } from '../../src/engine/types.js';
import { AbortError } from '../../src/errors.js';
import type { GpuContext } from '../../src/gpu/context.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import { cachedModelFiles } from '../../src/storage/cachedFiles.js';
import { isModelCached } from '../../src/storage/cache.js';
import { chunkLength, storeKeys, type FileRecord, type KeyValueStore } from '../../src/storage/chunkStore.js';
import { downloadModel } from '../../src/storage/download.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startHubServer, type HubServer } from '../helpers/hubServer.js';

const REPO = 'test/llama';
const CHUNK = 64 << 10;

/** A KeyValueStore over a Map (the chunk store's interface; IndexedDB in a browser), counting chunk writes. */
class MemoryStore implements KeyValueStore {
  readonly map = new Map<string, unknown>();
  onChunk: ((n: number) => void) | undefined;
  private chunks = 0;
  async get<T>(key: string) {
    return this.map.get(key) as T | undefined;
  }
  async set(key: string, value: unknown) {
    this.map.set(key, value instanceof Uint8Array ? value.slice() : structuredClone(value));
    if (key.startsWith('chunk/')) this.onChunk?.(++this.chunks);
  }
  async del(key: string) {
    this.map.delete(key);
  }
  async delMany(keys: string[]) {
    for (const k of keys) this.map.delete(k);
  }
  async keys() {
    return [...this.map.keys()];
  }
}

/** Every stored chunk is whole and every file record counts only chunks that are there. */
function expectNothingHalfStored(store: MemoryStore): void {
  for (const [key, value] of store.map) {
    if (!key.startsWith('file/')) continue;
    const rec = value as FileRecord;
    for (let i = 0; i < rec.chunks; i++) {
      const c = store.map.get(storeKeys.chunk('test/llama@main', rec.path, i)) as Uint8Array | undefined;
      expect(c?.byteLength).toBe(chunkLength(rec.size, rec.chunkSize, i));
    }
  }
  for (const key of store.map.keys()) {
    const m = /^chunk\/test\/llama@main\/(.+)#(\d+)$/.exec(key);
    if (!m) continue;
    const rec = store.map.get(storeKeys.file('test/llama@main', m[1]!)) as FileRecord;
    expect(Number(m[2])).toBeLessThan(rec.chunks); // no chunk beyond what the record says is complete
  }
}

async function drain(it: AsyncIterable<GenerateChunk>): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe('aborting a load mid-download and mid-upload (hub server on 127.0.0.1, Dawn)', () => {
  let hub: HubServer;
  const store = new MemoryStore();
  const state: { ctx?: GpuContext } = {};
  // A repo id loads as in the worker (src/worker/openSource.ts): downloaded into the chunk store, read from there.
  const engine = new LocalEngine({
    gpu: async () => (state.ctx = await createNodeGpu()),
    openFiles: async (repo, signal) => {
      await downloadModel(repo, { baseUrl: hub.url, store, signal, chunkSize: CHUNK, concurrency: 1 });
      return cachedModelFiles(repo, { store });
    },
  });
  beforeAll(async () => {
    hub = await startHubServer({ root: FIXTURES, lfsMinBytes: 100_000 });
  });
  afterAll(async () => {
    await engine.dispose();
    await hub?.close();
  });

  it('mid-download: AbortError, only whole chunks stored, not cached; the next load resumes and works', async () => {
    const ac = new AbortController();
    store.onChunk = (n) => n === 3 && ac.abort();
    await expect(engine.load(REPO, { signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    store.onChunk = undefined;
    expect(await isModelCached(REPO, 'main', store)).toBe(false);
    expectNothingHalfStored(store);
    const stored = [...store.map.keys()].filter((k) => k.startsWith('chunk/')).length;
    expect(stored).toBeGreaterThanOrEqual(3);
    hub.log.length = 0;
    const info = await engine.load(REPO, { maxContext: 64 });
    expect(info.modelType).toBe('llama');
    expect(await isModelCached(REPO, 'main', store)).toBe(true);
    expect(hub.log.some((r) => r.method === 'GET' && r.path.endsWith('model.safetensors') && !/^bytes=0-/.test(r.range ?? ''))).toBe(true); // resumed
    expect((await drain(engine.generate({ ids: [1, 2, 3] }, { maxTokens: 2, temperature: 0 }))).at(-1)!.finishReason).toBe('length');
  });

  it('mid-upload: AbortError, no GPU buffer held, the cached copy intact; the next load works', async () => {
    await engine.unload();
    const ctx = state.ctx!;
    const before = { live: ctx.liveBuffers, bytes: ctx.bytesAllocated };
    const ac = new AbortController();
    let events = 0;
    const load = engine.load(REPO, { maxContext: 64, signal: ac.signal, onProgress: () => ++events === 2 && ac.abort() });
    await expect(load).rejects.toBeInstanceOf(AbortError);
    expect(events).toBeGreaterThanOrEqual(2);
    expect({ live: ctx.liveBuffers, bytes: ctx.bytesAllocated }).toEqual(before);
    expect(await engine.info()).toBeUndefined();
    expect(await isModelCached(REPO, 'main', store)).toBe(true);
    await engine.load(REPO, { maxContext: 64 });
    expect((await drain(engine.generate({ ids: [1, 2, 3] }, { maxTokens: 2, temperature: 0 }))).at(-1)!.finishReason).toBe('length');
  });

  it('an abort at any moment of a load over HTTP ends in AbortError or a load, and holds nothing after an abort', async () => {
    await engine.unload();
    const ctx = state.ctx!;
    const before = { live: ctx.liveBuffers, bytes: ctx.bytesAllocated };
    const url = `${hub.url}/${REPO}/resolve/main/`;
    const outcomes: string[] = [];
    for (const ms of [0, 1, 3, 10, 30, 100]) {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), ms);
      const r = await engine.load({ url }, { maxContext: 64, signal: ac.signal }).then(
        () => 'loaded',
        (e: unknown) => (e instanceof AbortError ? 'aborted' : e),
      );
      clearTimeout(timer);
      if (typeof r !== 'string') throw r;
      outcomes.push(r);
      await engine.unload();
      expect({ live: ctx.liveBuffers, bytes: ctx.bytesAllocated }).toEqual(before);
    }
    expect(outcomes).toContain('aborted');
  });
});
