import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFit } from '../../src/engine/fit.js';
import { LocalEngine } from '../../src/engine/localEngine.js';
import type { GenerateChunk } from '../../src/engine/types.js';
import { GpuOutOfMemoryError } from '../../src/errors.js';
import type { GpuContext } from '../../src/gpu/context.js';
import { defaultMaxChunk } from '../../src/models/chunk.js';
import type { ModelConfig } from '../../src/models/config.js';
import { estimateModelMemory, type MemoryEstimate } from '../../src/models/fit.js';
import { loadWeightsAndConfig } from '../../src/models/load.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import { openNodeSource } from '../../src/node/nodeEngine.js';
import { fixtureDir } from '../helpers/fixtures.js';

const LLAMA = fixtureDir('llama');

async function drain(it: AsyncIterable<GenerateChunk>): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

/** An engine over one Dawn context the test can inspect (liveBuffers). */
function engineWithContext() {
  const state: { ctx?: GpuContext } = {};
  const engine = new LocalEngine({ gpu: async () => (state.ctx = await createNodeGpu()), openFiles: openNodeSource });
  afterAll(() => engine.dispose());
  return { engine, state };
}

describe('defaultMaxChunk', () => {
  it('is 512 for dense models; for MoE models enough for ~128 tokens an expert, in steps of 512 up to 2048', () => {
    const moe = (numExperts: number, topK: number) => ({ moe: { numExperts, route: { topK } } }) as unknown as ModelConfig;
    expect(defaultMaxChunk({} as ModelConfig)).toBe(512);
    expect(defaultMaxChunk(moe(8, 2))).toBe(512); // mixtral
    expect(defaultMaxChunk(moe(64, 6))).toBe(1536); // deepseek-v2-lite
    expect(defaultMaxChunk(moe(64, 8))).toBe(1024); // olmoe
    expect(defaultMaxChunk(moe(128, 8))).toBe(2048); // qwen3-30b-a3b
    expect(defaultMaxChunk(moe(256, 8))).toBe(2048); // deepseek-v3, capped
  });
});

describe('estimateModelMemory', () => {
  it('matches what loading allocates (weights exactly, the total within bounds) at f32 and q8_0', async () => {
    const { engine } = engineWithContext();
    const { config, weights } = await loadWeightsAndConfig(folderFiles(LLAMA));
    for (const dtype of ['auto', 'q8_0'] as const) {
      const e = estimateModelMemory(config, weights, { dtype, maxContext: 200 });
      const info = await engine.load(LLAMA, { dtype, maxContext: 200 });
      expect(e.weightBytes / info.weightBytes).toBeGreaterThan(0.97);
      expect(e.weightBytes / info.weightBytes).toBeLessThan(1.03);
      expect(e.kvCacheBytes).toBe(2 * 2 * 200 * 2 * 16 * 4); // layers x (k, v) x positions x kv heads x head dim x f32
      expect(e.totalBytes).toBeGreaterThanOrEqual(info.memoryBytes);
      expect(e.totalBytes).toBeLessThan(info.memoryBytes * 1.6);
    }
  });

  it('sizes sliding-window layers as rings (mistral_swa, window 8)', async () => {
    const { config, weights } = await loadWeightsAndConfig(folderFiles(fixtureDir('mistral_swa')));
    const a = estimateModelMemory(config, weights, { maxContext: 4096, maxChunk: 64 });
    const b = estimateModelMemory(config, weights, { maxContext: 65536, maxChunk: 64 });
    expect(b.kvCacheBytes).toBe(a.kvCacheBytes);
  });
});

describe('checkFit', () => {
  const limits = { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 30 };
  // A model of 1000 parameters per context position and 4 bytes per weight at f32.
  const estimate = (c: { dtype: string; maxContext: number }): MemoryEstimate => {
    const weightBytes = 1e6 * (c.dtype === 'q4_0' ? 0.5625 : c.dtype === 'q8_0' ? 1.0625 : 4);
    const kvCacheBytes = 1000 * c.maxContext;
    return {
      weightBytes,
      kvCacheBytes,
      activationBytes: 0,
      totalBytes: weightBytes + kvCacheBytes,
      largestBufferBytes: 1e5,
      largestBufferName: 'w',
      largestBindingBytes: 1e5,
    };
  };
  const refusal = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e as GpuOutOfMemoryError;
    }
    throw new Error('it fit');
  };

  it('passes what fits and hints a smaller dtype, then a shorter context, then a smaller model', () => {
    expect(checkFit({ dtype: 'auto', maxContext: 1000 }, { ...limits, budgetBytes: 6e6 }, estimate).totalBytes).toBe(5e6);
    const q8 = refusal(() => checkFit({ dtype: 'auto', maxContext: 1000 }, { ...limits, budgetBytes: 3e6 }, estimate));
    expect(q8).toBeInstanceOf(GpuOutOfMemoryError);
    expect([q8.neededBytes, q8.availableBytes, q8.hint]).toEqual([5e6, 3e6, "load with { dtype: 'q8_0' }"]);
    const ctx = refusal(() => checkFit({ dtype: 'q4_0', maxContext: 4096 }, { ...limits, budgetBytes: 2e6 }, estimate));
    expect(ctx.hint).toBe('load with { maxContext: 1024 }');
    const none = refusal(() => checkFit({ dtype: 'q4_0', maxContext: 4096 }, { ...limits, budgetBytes: 5e5 }, estimate));
    expect(none.hint).toMatch(/smaller model or raise memoryBudget/);
  });

  it('refuses a buffer past maxBufferSize whatever the budget', () => {
    const e = refusal(() => checkFit({ dtype: 'auto', maxContext: 10 }, { maxBufferSize: 5e4, maxStorageBufferBindingSize: 1 << 30 }, estimate));
    expect(e.message).toMatch(/w needs one buffer of .* maxBufferSize/);
    expect([e.neededBytes, e.availableBytes]).toEqual([1e5, 5e4]);
  });
});

describe('LocalEngine.load within GPU memory (Dawn)', () => {
  const { engine, state } = engineWithContext();

  it('refuses a load above memoryBudget before allocating anything, and loads right after', async () => {
    await engine.load(LLAMA, { maxContext: 64 }); // the context exists, with its pooled buffers
    await engine.unload();
    const ctx = state.ctx!;
    const live = ctx.liveBuffers;
    const bytes = ctx.bytesAllocated;
    const err = (await engine.load(LLAMA, { maxContext: 64, memoryBudget: 800_000 }).catch((e: unknown) => e)) as GpuOutOfMemoryError;
    expect(err).toBeInstanceOf(GpuOutOfMemoryError);
    expect(err.neededBytes).toBeGreaterThan(800_000);
    expect(err.availableBytes).toBe(800_000);
    expect(err.hint).toBe("load with { dtype: 'q8_0' }");
    expect([ctx.liveBuffers, ctx.bytesAllocated]).toEqual([live, bytes]);
    const info = await engine.load(LLAMA, { maxContext: 64, memoryBudget: 800_000, dtype: 'q8_0' });
    expect(info.memoryBytes).toBeLessThan(800_000);
    expect((await drain(engine.generate({ ids: [1, 2, 3] }, { maxTokens: 3, temperature: 0 }))).at(-1)!.finishReason).toBe('length');
  });

  it('frees everything after a real out-of-memory (an address-space limit makes the allocator fail) and loads right after', async () => {
    await engine.unload();
    const ctx = state.ctx!;
    const live = ctx.liveBuffers;
    const bytes = ctx.bytesAllocated;
    // SwiftShader's device memory is host memory: with the process's address space capped 512 MiB above what
    // it maps now, the 256 MiB KV layers of a 2M-position context fail in vkAllocateMemory (a real OOM).
    const vm = Number(/VmSize:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
    const setLimit = (soft: string) => execFileSync('prlimit', [`--pid=${process.pid}`, `--as=${soft}:unlimited`]);
    let err: unknown;
    setLimit(String(vm + 512 * 2 ** 20));
    try {
      err = await engine.load(LLAMA, { maxContext: 1 << 21 }).catch((e: unknown) => e);
    } finally {
      setLimit('unlimited');
    }
    expect(err).toBeInstanceOf(GpuOutOfMemoryError);
    expect((err as GpuOutOfMemoryError).message).toMatch(/out of memory.*freed/is);
    expect((err as GpuOutOfMemoryError).neededBytes).toBeGreaterThan(2 ** 30);
    expect([ctx.liveBuffers, ctx.bytesAllocated]).toEqual([live, bytes]);
    expect(await engine.info()).toBeUndefined();
    await engine.load(LLAMA, { maxContext: 64 });
    expect(state.ctx).toBe(ctx); // the same device goes on
    expect((await drain(engine.generate({ ids: [1, 2, 3] }, { maxTokens: 3, temperature: 0 }))).at(-1)!.finishReason).toBe('length');
  });
});
