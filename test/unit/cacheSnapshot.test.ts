import { MessageChannel } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { snapshotBuffers, type CacheSnapshot } from '../../src/engine/cacheSnapshot.js';
import { LocalEngine } from '../../src/engine/localEngine.js';
import type { GenerateChunk } from '../../src/engine/types.js';
import { CacheMismatchError, InvalidArgumentError } from '../../src/errors.js';
import { buildModel, loadWeightsAndConfig } from '../../src/models/load.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import { exposeEngine } from '../../src/worker/exposeEngine.js';
import { WorkerEngine } from '../../src/worker/workerEngine.js';
import { expected, fixtureDir, fixtureFiles } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';

async function collect(it: AsyncIterable<GenerateChunk>): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}
const idsOf = (chunks: GenerateChunk[]) => chunks.flatMap((c) => c.tokenIds);

describe('KvCache rows: read back, written into another model, the next logits are bit-identical', () => {
  // Full layers (llama), a sliding ring that wrapped (mistral_swa at chunk 4: 11 slots, 30 positions),
  // interleaved sliding and global layers (gemma3_text), MLA latents (deepseek_v3).
  for (const [name, maxChunk] of [
    ['llama', 512],
    ['mistral_swa', 4],
    ['gemma3_text', 3],
    ['deepseek_v3', 512],
  ] as const) {
    it(name, async () => {
      const ctx = await gpu();
      const exp = await expected(name);
      const { config, weights } = await loadWeightsAndConfig(fixtureFiles(name));
      const opts = { dtype: 'f32' as const, maxContext: 64, maxChunk };
      const a = await buildModel(ctx, config, weights, opts);
      const b = await buildModel(ctx, config, weights, opts);
      try {
        const history = [...exp.inputIds, ...exp.greedyIds].slice(0, 30);
        const next = [5, 17, 3];
        a.forward(history, 0);
        const rows = await a.cache.readRows(ctx);
        if (name === 'mistral_swa') expect(rows.map((r) => r.first)).toEqual([30 - 11, 30 - 11]);
        b.forward([1, 2, 3, 4, 5, 6, 7], 0); // something else cached first: the restore replaces it
        b.cache.writeRows(ctx, rows, history.length);
        expect(b.cachedLength).toBe(history.length);
        const want = await ctx.readF32(a.forward(next, history.length, { allLogits: true }));
        const got = await ctx.readF32(b.forward(next, history.length, { allLogits: true }));
        expect(got).toEqual(want);
        // And one decode step after it.
        expect(await ctx.readF32(b.forward([9], history.length + 3))).toEqual(await ctx.readF32(a.forward([9], history.length + 3)));
        // Rows of another length are refused before anything changes.
        expect(() => b.cache.writeRows(ctx, rows, history.length + 1)).toThrow(InvalidArgumentError);
        expect(b.cachedLength).toBe(history.length + 4);
      } finally {
        a.dispose();
        b.dispose();
      }
    });
  }
});

describe('engine.exportCache / importCache', () => {
  const dir = fixtureDir('qwen2');
  const first = new LocalEngine({ gpu: () => createNodeGpu() });
  const reloaded = new LocalEngine({ gpu: () => createNodeGpu() });
  afterAll(async () => {
    await first.dispose();
    await reloaded.dispose();
  });

  it('a new engine given the snapshot continues as the engine that never reloaded, the history served from the cache', async () => {
    const exp = await expected('qwen2');
    await first.load({ files: folderFiles(dir) });
    const turn1 = await collect(first.generate({ ids: exp.inputIds }, { temperature: 0, maxTokens: 6 }));
    const snap = await first.exportCache();
    expect(snap.dtype).toBe('f32');
    expect(snap.tokens).toEqual([...exp.inputIds, ...idsOf(turn1)].slice(0, snap.tokens.length));
    expect(snap.tokens.length).toBe((await first.info())!.cachedTokens);
    expect(snap.layers[0]!.k.byteLength).toBe(snap.tokens.length * snap.layers[0]!.kShape[0] * snap.layers[0]!.kShape[1] * 4);

    await reloaded.load({ files: folderFiles(dir) });
    await reloaded.importCache(snap);
    expect((await reloaded.info())!.cachedTokens).toBe(snap.tokens.length);

    // The next turn: the history and a new message, sampled (seeded) so every logit counts.
    const turn2 = [...snap.tokens, 11, 42, 7];
    const opts = { temperature: 1, seed: 3, maxTokens: 8 };
    const a = await collect(first.generate({ ids: turn2 }, opts));
    const b = await collect(reloaded.generate({ ids: turn2 }, opts));
    expect(idsOf(b)).toEqual(idsOf(a));
    const sa = a.at(-1)!.stats!;
    const sb = b.at(-1)!.stats!;
    expect(sb.cachedPromptTokens).toBe(snap.tokens.length);
    expect(sb.prefillTokens).toBe(3);
    expect(sb.cachedPromptTokens).toBe(sa.cachedPromptTokens);
  });

  it('refuses a snapshot of another model or shape with CacheMismatchError, and keeps its cache', async () => {
    const snap = await first.exportCache();
    const held = (await reloaded.info())!.cachedTokens;
    const other = (patch: Partial<CacheSnapshot>) => reloaded.importCache({ ...snap, ...patch } as CacheSnapshot);
    await expect(other({ modelKey: 'someone/else|qwen2|f32|512|1' })).rejects.toBeInstanceOf(CacheMismatchError);
    await expect(other({ dtype: 'f16' as 'f32' })).rejects.toBeInstanceOf(CacheMismatchError);
    await expect(other({ layers: snap.layers.slice(1) })).rejects.toBeInstanceOf(CacheMismatchError);
    await expect(other({ layers: snap.layers.map((l) => ({ ...l, kShape: [l.kShape[0] + 1, l.kShape[1]] as const })) })).rejects.toBeInstanceOf(
      CacheMismatchError,
    );
    await expect(other({ tokens: new Array(100_000).fill(1) })).rejects.toBeInstanceOf(CacheMismatchError);
    await expect(other({ tokens: [...snap.tokens.slice(0, -1), 99_999] })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(other({ format: 'nope' as CacheSnapshot['format'] })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect((await reloaded.info())!.cachedTokens).toBe(held);
  });

  it('crosses the worker boundary (a MessageChannel), buffers transferred, errors typed', async () => {
    const { port1, port2 } = new MessageChannel();
    exposeEngine(reloaded, port1 as unknown as Parameters<typeof exposeEngine>[1]);
    const remote = new WorkerEngine(port2 as unknown as ConstructorParameters<typeof WorkerEngine>[0]);
    try {
      const snap = await remote.exportCache();
      expect(snap.tokens.length).toBe((await reloaded.info())!.cachedTokens);
      expect(snap.layers.every((l) => l.k instanceof ArrayBuffer && l.k.byteLength > 0)).toBe(true);
      const bytes = snap.layers[0]!.k.byteLength;
      await expect(remote.importCache({ ...snap, modelKey: 'x' })).rejects.toBeInstanceOf(CacheMismatchError);
      const again = await remote.exportCache();
      await remote.importCache(again);
      expect(again.layers[0]!.k.byteLength).toBe(0); // transferred to the worker side, not copied
      expect((await remote.exportCache()).layers[0]!.k.byteLength).toBe(bytes);
    } finally {
      port1.close();
      port2.close();
    }
  });
});

describe('the time a restored cache saves (the qwen3 fixture, on this machine)', () => {
  const engine = new LocalEngine({ gpu: () => createNodeGpu() });
  afterAll(() => engine.dispose());

  it('the next turn of a long conversation: prefill of the whole history vs of the new message only', async () => {
    const model = { files: fixtureFiles('qwen3') };
    const info = await engine.load(model);
    // A conversation of 220 tokens so far (the context holds 256), then the next message of 6.
    const history = Array.from({ length: 220 }, (_, i) => (i * 37 + 11) % info.vocabSize);
    const opts = { temperature: 0, maxTokens: 3 };
    const turn = idsOf(await collect(engine.generate({ ids: history }, opts)));
    let t = performance.now();
    const snap = await engine.exportCache();
    const exportMs = performance.now() - t;
    const bytes = snapshotBuffers(snap).reduce((a, b) => a + b.byteLength, 0);
    const prompt = [...history, ...turn, 5, 6, 7, 8, 9, 10];
    const runs: { cold: GenerateChunk; warm: GenerateChunk; importMs: number }[] = [];
    for (let round = 0; round < 2; round++) {
      await engine.load(model); // a reload without the saved cache: the whole history is prefilled
      const cold = (await collect(engine.generate({ ids: prompt }, opts))).at(-1)!;
      await engine.load(model); // a reload with it
      t = performance.now();
      await engine.importCache(snap);
      const importMs = performance.now() - t;
      runs.push({ cold, warm: (await collect(engine.generate({ ids: prompt }, opts))).at(-1)!, importMs });
    }
    const best = (f: (r: (typeof runs)[number]) => number) => Math.min(...runs.map(f));
    const c = runs[0]!.cold.stats!;
    const w = runs[0]!.warm.stats!;
    expect(c.cachedPromptTokens).toBe(0);
    expect(w.cachedPromptTokens).toBe(snap.tokens.length);
    const coldMs = best((r) => r.cold.stats!.timeToFirstTokenMs);
    const warmMs = best((r) => r.warm.stats!.timeToFirstTokenMs);
    console.log(
      `restored KV cache (qwen3 fixture, ${snap.layers.length} layers, f32 cache), next turn of ${c.promptTokens} tokens: ` +
        `first token after ${coldMs.toFixed(0)} ms prefilling all ${c.prefillTokens} without the cache, ` +
        `${warmMs.toFixed(0)} ms prefilling ${w.prefillTokens} with it (${w.cachedPromptTokens} cached); ` +
        `export ${exportMs.toFixed(0)} ms, import ${best((r) => r.importMs).toFixed(0)} ms, ${(bytes / 1e3).toFixed(0)} KB (best of ${runs.length})`,
    );
    expect(warmMs).toBeLessThan(coldMs);
  });
});
