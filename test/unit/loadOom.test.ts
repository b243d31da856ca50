import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomWeightSource } from '../../bench/randomWeights.js';
import { syntheticTokenizer } from '../../bench/syntheticTokenizer.js';
import { LocalEngine } from '../../src/engine/localEngine.js';
import { GpuOutOfMemoryError } from '../../src/errors.js';
import { uploadPacing, type GpuContext } from '../../src/gpu/context.js';
import { writeModelGGUF } from '../../src/node/convert.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import { openNodeSource } from '../../src/node/nodeEngine.js';
import { loadChunking } from '../../src/weights/loadTensors.js';
import { fixtureDir } from '../helpers/fixtures.js';

// A qwen2 model of 6 layers whose MLPs are large (gate|up 38 MB and down 19 MB of Q4_0 each, 57 MB a layer, 340 MB
// in all) and everything else small, so that a real allocation failure comes at a weight buffer half-way.
const config = {
  model_type: 'qwen2',
  hidden_size: 1024,
  intermediate_size: 32768,
  num_hidden_layers: 6,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  vocab_size: 512,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 510,
  eos_token_id: 511,
};

describe('a real out-of-memory half-way through a load (Dawn)', () => {
  let dir: string;
  const state: { ctx?: GpuContext } = {};
  const engine = new LocalEngine({ gpu: async () => (state.ctx = await createNodeGpu()), openFiles: openNodeSource });
  const paced = uploadPacing.windowBytes;
  const chunk = loadChunking.maxBytes;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weblm-oom-'));
    const specials = new Map([
      [510, '<|bos|>'],
      [511, '<|eos|>'],
    ]);
    const { tokenizerJson, tokenizerConfig } = syntheticTokenizer(510, specials, 'qwen2', '<|bos|>', '<|eos|>');
    await writeModelGGUF(
      { raw: config, weights: randomWeightSource(config, 'q4_0'), tokenizerJson, tokenizerConfig, name: 'oom' },
      join(dir, 'm.gguf'),
      'q4_0',
    );
    // Checkpoints every 4 MB and reads of 1 MB: the load notices the failure within a few MB, and what it
    // allocates on the host meanwhile stays small.
    uploadPacing.windowBytes = 4 << 20;
    loadChunking.maxBytes = 1 << 20;
  }, 120_000);
  afterAll(async () => {
    uploadPacing.windowBytes = paced;
    loadChunking.maxBytes = chunk;
    await engine.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('throws GpuOutOfMemoryError soon after the failing buffer, with every buffer it made destroyed, and the next load works', async () => {
    const source = { files: folderFiles(dir), gguf: 'm.gguf' };
    await engine.load(fixtureDir('llama'), { maxContext: 64 }); // the context and its pooled buffers exist
    await engine.unload();
    const ctx = state.ctx!;
    // Dawn frees destroyed buffers' memory once the GPU is past their last use.
    for (let i = 0; i < 3; i++) (await ctx.sync(), await new Promise((r) => setTimeout(r, 100)));
    const before = { live: ctx.liveBuffers, bytes: ctx.bytesAllocated };
    // SwiftShader's device memory is host memory: with the address space capped 150 MB above what the process
    // maps now, a weight buffer of the third layer or so fails in vkAllocateMemory.
    const vm = Number(/VmSize:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
    const setLimit = (soft: string) => execFileSync('prlimit', [`--pid=${process.pid}`, `--as=${soft}:unlimited`]);
    let loaded = 0;
    let total = 0;
    let err: unknown;
    setLimit(String(vm + 150 * 2 ** 20));
    try {
      err = await engine.load(source, { maxContext: 64, onProgress: (p) => ((loaded = p.loaded), (total = p.total)) }).catch((e: unknown) => e);
    } finally {
      setLimit('unlimited');
    }
    expect(err).toBeInstanceOf(GpuOutOfMemoryError);
    expect((err as GpuOutOfMemoryError).message).toMatch(/out of memory.*freed/is);
    expect((err as GpuOutOfMemoryError).hint).toMatch(/dtype|maxContext/);
    // Thrown within a window of the failure, not after reading the rest of the model.
    expect(loaded).toBeGreaterThan(0);
    expect(loaded).toBeLessThan(total / 2);
    expect({ live: ctx.liveBuffers, bytes: ctx.bytesAllocated }).toEqual(before);
    expect(await engine.info()).toBeUndefined();
    const again = await engine.load(source, { maxContext: 64 });
    expect(state.ctx).toBe(ctx); // the same device goes on
    expect(again.weightBytes).toBeGreaterThan(300 * 2 ** 20);
  }, 300_000);
});
