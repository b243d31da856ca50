import { describe, expect, it } from 'vitest';
import { buildModel, loadWeightsAndConfig } from '../../src/models/load.js';
import { expected, fixtureFiles } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/random.js';

describe('prepareDecode', () => {
  it('compiles the long-context decode at load: no step compiles later, and the cache is empty and unharmed', async () => {
    const ctx = await gpu();
    const exp = await expected('qwen3');
    const T = exp.inputIds.length;
    const { config, weights } = await loadWeightsAndConfig(fixtureFiles('qwen3'));
    // Q4_0, head dim 32, 2,048 positions: the o_proj GEMV merges the first step's chunks; the last step's are too many.
    const model = await buildModel(ctx, config, weights, { dtype: 'q4_0', maxContext: 2048 });
    try {
      const fresh = await ctx.readF32(model.forward(exp.inputIds, 0));
      model.cache.length = 0;
      await ctx.read(model.forward([0], 0), 4);
      const shortOnly = ctx.pipelines.size;
      model.cache.length = 0;
      await model.prepareDecode();
      expect(model.cachedLength).toBe(0);
      const prepared = ctx.pipelines.size;
      expect(prepared).toBeGreaterThan(shortOnly); // the longest context runs kernels the shortest does not
      // Steps anywhere in the cache compile nothing more.
      for (const position of [1, 700, 1300, 2047]) {
        model.cache.length = position;
        await ctx.read(model.forward([3], position), 4);
      }
      expect(ctx.pipelines.size).toBe(prepared);
      // What the steps left in the cache is overwritten before it is read: the prompt's logits are those of a fresh cache.
      model.cache.length = 0;
      expect(maxAbsDiff(await ctx.readF32(model.forward(exp.inputIds, 0)), fresh)).toBeLessThan(1e-6);
      // Only on an empty cache: a prepared model with a prompt in it keeps it.
      await model.prepareDecode();
      expect(model.cachedLength).toBe(T);
    } finally {
      model.dispose();
    }
  });
});
