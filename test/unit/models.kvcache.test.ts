import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { buildModel, loadWeightsAndConfig } from '../../src/models/load.js';
import { expected, fixtureFiles } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { overrideKernels } from '../helpers/overrides.js';
import { maxAbsDiff } from '../helpers/random.js';

describe('KV cache policy', () => {
  it('sliding layers keep a ring of window + chunk - 1; rewinding within it matches a fresh forward', async () => {
    const ctx = await gpu();
    const exp = await expected('mistral_swa'); // window 8, prompt 20
    const { config, weights } = await loadWeightsAndConfig(fixtureFiles('mistral_swa'));
    const model = await buildModel(ctx, config, weights, { dtype: 'f32', maxContext: 64, maxChunk: 4 });
    try {
      expect(model.cache.layers.map((l) => l.capacity)).toEqual([11, 11]);
      const V = model.info.vocabSize;
      const T = exp.inputIds.length;
      const ids = exp.inputIds;
      const want = exp.logits.subarray((T - 1) * V);
      expect(maxAbsDiff(await ctx.readF32(model.forward(ids, 0)), want)).toBeLessThan(1e-3);
      // Replace the last two tokens (a chat turn that shares a prefix): only they are forwarded again.
      expect(model.canForwardAt(T - 2)).toBe(true);
      model.forward([7, 9], T - 2);
      expect(maxAbsDiff(await ctx.readF32(model.forward(ids.slice(T - 2), T - 2)), want)).toBeLessThan(1e-3);
      expect(model.cachedLength).toBe(T);
      // Too far back: the ring already overwrote keys that position needs.
      expect(model.canForwardAt(5)).toBe(false);
      expect(() => model.forward(ids.slice(5), 5)).toThrow(InvalidArgumentError);
      expect(() => model.forward([1], T + 1)).toThrow(/only 20 positions are cached/);
      expect(() => model.forward(new Array(65).fill(1), 0)).toThrow(/exceed the context of 64/);
    } finally {
      model.dispose();
    }
  });
});

/**
 * Worst |decode step - prefill| over the logits of a 2-layer qwen3 of random weights (scaled x20 so that
 * logits are O(1) and a wrong rotation shows), decoding ids 2.. one at a time after a prefill of ids 0..1.
 */
async function decodeVersusPrefill(intermediateSize: number, dtype: 'f32' | 'q8_0' | 'q4_0'): Promise<{ worst: number; largest: number }> {
  const { randomWeightSource } = await import('../../bench/randomWeights.js');
  const { normalizeConfig } = await import('../../src/models/registry.js');
  const raw = {
    model_type: 'qwen3',
    hidden_size: 64,
    intermediate_size: intermediateSize,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 64,
    vocab_size: 96,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
    hidden_act: 'silu',
  };
  const random = randomWeightSource(raw, 'f32');
  const weights = {
    tensors: random.tensors,
    async readRange(name: string, byteOffset: number, byteLength: number) {
      const b = await random.readRange(name, byteOffset, byteLength);
      if (random.tensors.get(name)!.shape.length === 2) {
        const f = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
        for (let i = 0; i < f.length; i++) f[i] = f[i]! * 20;
      }
      return b;
    },
    async read(name: string) {
      return this.readRange(name, 0, random.tensors.get(name)!.byteLength);
    },
  };
  const ctx = await gpu();
  const model = await buildModel(ctx, normalizeConfig(raw), weights, { dtype, maxContext: 16 });
  try {
    const ids = [3, 17, 42, 5, 88, 61, 9];
    const V = 96;
    const all = await ctx.readF32(model.forward(ids, 0, { allLogits: true }));
    model.forward(ids.slice(0, 2), 0);
    let worst = 0;
    for (let t = 2; t < ids.length; t++) {
      const step = await ctx.readF32(model.forward([ids[t]!], t));
      worst = Math.max(worst, maxAbsDiff(step, all.subarray(t * V, (t + 1) * V)));
    }
    return { worst, largest: Math.max(...all.map(Math.abs)) };
  } finally {
    model.dispose();
  }
}

describe('decode step with unpadded q|k|v sections (real-model head sizes)', () => {
  it('one rotation over adjacent q and k gives the same logits as the chunked prefill', async () => {
    const { worst, largest } = await decodeVersusPrefill(96, 'f32');
    expect(largest).toBeGreaterThan(0.5);
    expect(worst).toBeLessThan(1e-3);
  });
});

describe('decode step of a Q8_0 model (fused GLU in the down projection, decode GEMV)', () => {
  it('gives the same logits as the prefill, which runs glu and the tiled matmul apart', async () => {
    const { worst, largest } = await decodeVersusPrefill(128, 'q8_0');
    expect(largest).toBeGreaterThan(0.5);
    expect(worst).toBeLessThan(1e-3);
  });
});

describe('decode step of a Q4_0 model (the norms write x in planes for the qkv, gate|up and head GEMVs)', () => {
  it('gives the same logits as the prefill, which reads x in f32', async () => {
    await overrideKernels({ gemv: { planes: true } }); // by default only weights of 32 MiB and more read planes
    const { worst, largest } = await decodeVersusPrefill(128, 'q4_0');
    expect(largest).toBeGreaterThan(0.5);
    expect(worst).toBeLessThan(1e-3);
  });
});

describe('a decode step fed on the GPU (forward with idFrom, as the pipelined decode loop does)', () => {
  it('gives the logits of feeding the same id from the CPU, and takes one token only', async () => {
    const ctx = await gpu();
    const exp = await expected('mistral_swa');
    const { config, weights } = await loadWeightsAndConfig(fixtureFiles('mistral_swa'));
    const model = await buildModel(ctx, config, weights, { dtype: 'f32', maxContext: 64, maxChunk: 4 });
    try {
      const ids = exp.inputIds;
      const T = ids.length;
      model.forward(ids.slice(0, T - 1), 0);
      const want = await ctx.readF32(model.forward([ids[T - 1]!], T - 1));
      const held = ctx.upload(new Uint32Array([ids[T - 1]!, 0, 0, 0]), [4], 'u32');
      const got = await ctx.readF32(model.forward([0], T - 1, { idFrom: held })); // the placeholder 0 is replaced
      expect(maxAbsDiff(got, want)).toBe(0);
      expect(model.cachedLength).toBe(T);
      expect(() => model.forward([0, 0], T - 1, { idFrom: held })).toThrow(InvalidArgumentError);
    } finally {
      model.dispose();
    }
  });
});
