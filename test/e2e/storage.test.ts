import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startHubServer, type HubServer } from '../helpers/hubServer.js';
import type { DownloadJob, Outcome, StorageApi } from './pages/storage.js';

const CHUNK = 32 * 1024;
const sha = (path: string) =>
  createHash('sha256')
    .update(readFileSync(join(FIXTURES, path)))
    .digest('hex');
const size = (path: string) => readFileSync(join(FIXTURES, path)).length;

describe('model storage in Chromium: download into IndexedDB, resume, integrity, cache management', () => {
  let rig: BrowserRig;
  let hub: HubServer;
  let page: Page;
  let dbN = 0;
  let db: string;
  const call = async <K extends keyof StorageApi>(name: K, ...args: Parameters<StorageApi[K]>) =>
    (await page.evaluate(
      ([n, a]) => (window as unknown as { storageApi: Record<string, (...x: unknown[]) => unknown> }).storageApi[n as string]!(...(a as unknown[])),
      [name, args] as const,
    )) as Awaited<ReturnType<StorageApi[K]>>;
  const ok = <T>(o: Outcome<T>): T => {
    if ('error' in o) throw new Error(`${o.error.name}: ${o.error.message}`);
    return o.ok;
  };
  const job = (extra: Partial<DownloadJob> = {}): DownloadJob => ({ baseUrl: hub.url, chunkSize: CHUNK, retries: 0, ...extra });
  const gets = () => hub.log.filter((r) => r.method === 'GET' && r.path.endsWith('model.safetensors'));

  beforeAll(async () => {
    rig = await startBrowserRig();
    hub = await startHubServer({ root: FIXTURES, lfsMinBytes: 10_000 });
    page = await rig.open('/test/e2e/pages/storage.html');
    await page.waitForFunction(() => 'storageApi' in window);
  });
  afterAll(async () => {
    await hub?.close();
    await rig?.close();
  });
  beforeEach(() => {
    db = `weblm-test-${++dbN}`;
    hub.log.length = 0;
    for (const k of Object.keys(hub.faults)) delete hub.faults[k as keyof typeof hub.faults];
  });

  it('downloads a repo in chunks with progress, verifies sha256, serves it as ModelFiles, and is offline afterwards', async () => {
    const { record, events } = ok(await call('download', db, 'fixtures/qwen2', job({ concurrency: 2 })));
    expect(record.complete).toBe(true);
    expect(record.files.map((f) => f.path).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
    const total = size('qwen2/config.json') + size('qwen2/generation_config.json') + size('qwen2/model.safetensors');
    // Progress: per-file bytes never go back, overall bytes rise to the total, fraction ends at 1.
    const last = events.at(-1)!;
    expect([last.bytes, last.total, last.fraction]).toEqual([total, total, 1]);
    for (let i = 1; i < events.length; i++) expect(events[i]!.bytes).toBeGreaterThanOrEqual(events[i - 1]!.bytes);
    expect(events.filter((e) => e.file === 'model.safetensors').length).toBeGreaterThanOrEqual(Math.ceil(size('qwen2/model.safetensors') / CHUNK));
    // Stored as chunks of at most CHUNK bytes, never the whole file.
    const keys = ok(await call('keys', db));
    expect(keys.filter((k) => k.includes('model.safetensors#')).length).toBe(Math.ceil(size('qwen2/model.safetensors') / CHUNK));
    // Read back through ModelFiles, in reads that straddle chunks.
    expect(ok(await call('fileSha', db, 'fixtures/qwen2', 'model.safetensors', 10_007))).toEqual({
      size: size('qwen2/model.safetensors'),
      sha256: sha('qwen2/model.safetensors'),
    });
    expect(JSON.parse(ok(await call('text', db, 'fixtures/qwen2', 'config.json'))).model_type).toBe('qwen2');
    // The file list came from the Hub API (sizes, sha256), not from probing each name.
    expect(hub.log.filter((r) => r.method === 'HEAD')).toEqual([]);
    // Cached: a second call makes no request at all.
    hub.log.length = 0;
    ok(await call('download', db, 'fixtures/qwen2', job()));
    expect(hub.log).toEqual([]);
    expect(ok(await call('list', db)).map((m) => [m.id, m.bytes])).toEqual([['fixtures/qwen2@main', total]]);
  });

  it('resumes after a dropped connection from the last complete chunk (same call, with retries)', async () => {
    Object.assign(hub.faults, { dropAfterBytes: 3 * CHUNK + 1000, dropTimes: 1 });
    ok(await call('download', db, 'fixtures/llama', job({ retries: 2 })));
    const ranges = gets().map((r) => r.range);
    expect(ranges).toHaveLength(2);
    expect(ranges[0]).toBe(`bytes=0-${size('llama/model.safetensors') - 1}`);
    // The retry starts at a chunk boundary: the last complete chunk the browser delivered before the drop
    // (Chromium may error the body before it hands over the final bytes it received, so at most 3 chunks).
    const resumedAt = Number(/^bytes=(\d+)-/.exec(ranges[1]!)![1]);
    expect(resumedAt % CHUNK).toBe(0);
    expect(resumedAt).toBeLessThanOrEqual(3 * CHUNK);
    expect(ranges[1]).toBe(`bytes=${resumedAt}-${size('llama/model.safetensors') - 1}`);
    expect(ok(await call('fileSha', db, 'fixtures/llama', 'model.safetensors', 65_536)).sha256).toBe(sha('llama/model.safetensors'));
  });

  it('a dropped connection without retries is a NetworkError that keeps the stored chunks; the next call resumes', async () => {
    Object.assign(hub.faults, { dropAfterBytes: 5 * CHUNK + 7 });
    const err = await call('download', db, 'fixtures/llama', job());
    expect('error' in err && err.error).toMatchObject({ name: 'NetworkError', code: 'NETWORK_ERROR', typed: true });
    // Every complete chunk that reached the page is stored (at most 5: the browser may drop the bytes it had
    // not yet handed over when the connection fails), and the message says how far it got.
    const said = /dropped at byte (\d+) of \d+ .*; (\d+) of \d+ chunks of model.safetensors are stored/.exec('error' in err ? err.error.message : '');
    expect(said).not.toBeNull();
    const stored = Number(said![2]);
    expect(stored).toBe(Math.floor(Number(said![1]) / CHUNK));
    expect(stored).toBeLessThanOrEqual(5);
    expect(ok(await call('keys', db)).filter((k) => k.includes('model.safetensors#'))).toHaveLength(stored);
    expect(ok(await call('cached', db, 'fixtures/llama'))).toBe(false);
    expect(ok(await call('list', db))).toEqual([]);
    delete hub.faults.dropAfterBytes;
    hub.log.length = 0;
    ok(await call('download', db, 'fixtures/llama', job()));
    expect(gets().map((r) => r.range)).toEqual([`bytes=${stored * CHUNK}-${size('llama/model.safetensors') - 1}`]);
    expect(ok(await call('fileSha', db, 'fixtures/llama', 'model.safetensors', 50_000)).sha256).toBe(sha('llama/model.safetensors'));
  });

  it('a server without Range support cannot resume: a typed error, and the stored chunks are kept', async () => {
    Object.assign(hub.faults, { dropAfterBytes: 2 * CHUNK + 5 });
    expect(await call('download', db, 'fixtures/llama', job())).toMatchObject({ error: { name: 'NetworkError' } });
    const stored = ok(await call('keys', db)).filter((k) => k.includes('model.safetensors#')).length;
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThanOrEqual(2);
    Object.assign(hub.faults, { ignoreRange: true, dropAfterBytes: undefined });
    const err = await call('download', db, 'fixtures/llama', job({ retries: 3 }));
    expect(err).toMatchObject({ error: { name: 'NetworkError', typed: true } });
    expect('error' in err && err.error.message).toMatch(new RegExp(`ignored a Range request .* cannot resume at byte ${stored * CHUNK}`));
    expect(ok(await call('keys', db)).filter((k) => k.includes('model.safetensors#'))).toHaveLength(stored);
    hub.faults.ignoreRange = false;
    hub.log.length = 0;
    ok(await call('download', db, 'fixtures/llama', job()));
    expect(gets().map((r) => r.range)).toEqual([`bytes=${stored * CHUNK}-${size('llama/model.safetensors') - 1}`]);
  });

  it('finds the files of a plain mirror without the Hub API by probing (HEAD), with the same result', async () => {
    const mirror = await startHubServer({ root: FIXTURES, api: false });
    try {
      const { record } = ok(await call('download', db, 'fixtures/qwen2', { ...job(), baseUrl: mirror.url }));
      expect(record.files.map((f) => f.path).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
      expect(mirror.log.some((r) => r.path.startsWith('/api/'))).toBe(true);
      expect(ok(await call('fileSha', db, 'fixtures/qwen2', 'model.safetensors', 100_000)).sha256).toBe(sha('qwen2/model.safetensors'));
    } finally {
      await mirror.close();
    }
  });

  it('404: an unknown repo or file is ModelNotFoundError', async () => {
    expect(await call('download', db, 'fixtures/no_such_model', job())).toMatchObject({ error: { name: 'ModelNotFoundError', typed: true } });
    expect(await call('download', db, 'fixtures/llama', job({ files: ['config.json', 'model.gguf'] }))).toMatchObject({
      error: { name: 'ModelNotFoundError' },
    });
    expect(ok(await call('list', db))).toEqual([]);
  });

  it('a sha256 mismatch is an IntegrityError; the bad copy is dropped and nothing counts as cached', async () => {
    hub.faults.wrongSha256 = true;
    const err = await call('download', db, 'fixtures/llama', job());
    expect(err).toMatchObject({ error: { name: 'IntegrityError', typed: true } });
    expect('error' in err && err.error.message).toMatch(/sha256 [0-9a-f]{64} does not match/);
    expect(ok(await call('cached', db, 'fixtures/llama'))).toBe(false);
    expect(ok(await call('keys', db)).filter((k) => k.includes('model.safetensors'))).toEqual([]);
  });

  it('a corrupt (torn) chunk in the store is an IntegrityError on read', async () => {
    ok(await call('download', db, 'fixtures/llama', job()));
    ok(await call('corrupt', db, 'chunk/fixtures/llama@main/model.safetensors#3', 100));
    const err = await call('fileSha', db, 'fixtures/llama', 'model.safetensors', 65_536);
    expect(err).toMatchObject({ error: { name: 'IntegrityError', typed: true } });
    expect('error' in err && err.error.message).toMatch(/chunk 3 is corrupt \(100 instead of 32768 bytes\)/);
  });

  it('QuotaExceededError becomes StorageQuotaError (needed / available), and no half-written model remains', async () => {
    ok(await call('download', db, 'fixtures/qwen2', job()));
    const err = await call('download', db, 'fixtures/llama', job({ quotaAfterChunks: 4 }));
    expect(err).toMatchObject({ error: { name: 'StorageQuotaError', code: 'STORAGE_QUOTA', typed: true } });
    if (!('error' in err)) throw new Error('unreachable');
    expect(err.error.needed).toBeGreaterThan(size('llama/model.safetensors') - 5 * CHUNK);
    expect(err.error.available).toBeGreaterThan(0);
    expect(err.error.message).toMatch(/browser storage is full \(needed [\d.]+ MB more, [\d.]+ MB free/);
    expect(ok(await call('cached', db, 'fixtures/llama'))).toBe(false);
    expect(ok(await call('keys', db)).filter((k) => k.includes('fixtures/llama'))).toEqual([]);
    // The model stored before is untouched.
    expect(ok(await call('list', db)).map((m) => m.id)).toEqual(['fixtures/qwen2@main']);
    expect(ok(await call('fileSha', db, 'fixtures/qwen2', 'model.safetensors', 100_000)).sha256).toBe(sha('qwen2/model.safetensors'));
  });

  it('streams a cached tensor onto the GPU chunk by chunk, split at row boundaries where it passes the binding limit', async () => {
    ok(await call('download', db, 'fixtures/llama', job()));
    // model.layers.0.mlp.gate_proj.weight of the llama fixture: [128, 64] f32 = 32768 bytes, rows of 256 bytes.
    const file = readFileSync(join(FIXTURES, 'llama/model.safetensors'));
    const n = Number(file.readBigUInt64LE(0));
    const header = JSON.parse(file.subarray(8, 8 + n).toString('utf8'));
    const [a, b] = header['model.layers.0.mlp.gate_proj.weight'].data_offsets as [number, number];
    const begin = 8 + n + a;
    const want = createHash('sha256')
      .update(file.subarray(begin, 8 + n + b))
      .digest('hex');
    // Parts of at most 10,000 bytes: 39 rows (9984 bytes) each; reads of 3,000 bytes cross chunk boundaries.
    const got = ok(await call('upload', db, 'fixtures/llama', 'model.safetensors', begin, b - a, { maxPartBytes: 10_000, chunkBytes: 3_000, rowBytes: 256 }));
    expect(got.parts.map((p) => p.rows)).toEqual([39, 39, 39, 11]);
    expect(got.parts.every((p) => p.byteLength <= 10_000)).toBe(true);
    expect(got.sha256).toBe(want);
    // Rows of 34 bytes (a Q8_0 block row): parts are not multiples of 4 and are zero-padded on the GPU.
    const odd = ok(await call('upload', db, 'fixtures/llama', 'model.safetensors', begin, 34 * 300, { maxPartBytes: 4_000, chunkBytes: 1_000, rowBytes: 34 }));
    expect(odd.parts.map((p) => [p.rows, p.byteLength, p.size])).toEqual([
      [117, 3978, 3980],
      [117, 3978, 3980],
      [66, 2244, 2244],
    ]);
    expect(odd.sha256).toBe(
      createHash('sha256')
        .update(file.subarray(begin, begin + 34 * 300))
        .digest('hex'),
    );
  });

  it('lists and deletes cached models', async () => {
    ok(await call('download', db, 'fixtures/qwen2', job()));
    ok(await call('download', db, 'fixtures/llama', job()));
    expect(ok(await call('list', db)).map((m) => m.id)).toEqual(['fixtures/llama@main', 'fixtures/qwen2@main']);
    ok(await call('del', db, 'fixtures/llama'));
    expect(ok(await call('list', db)).map((m) => m.id)).toEqual(['fixtures/qwen2@main']);
    expect(ok(await call('keys', db)).filter((k) => k.includes('fixtures/llama'))).toEqual([]);
    expect(await call('text', db, 'fixtures/llama', 'config.json')).toMatchObject({ error: { name: 'ModelNotFoundError' } });
  });
});
