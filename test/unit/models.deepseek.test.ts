import { describe, expect, it } from 'vitest';
import type { DecoderModel } from '../../src/models/decoder.js';
import { loadModel } from '../../src/models/load.js';
import { mlaCacheBytes } from '../../src/layers/mla.js';
import { expected, fixtureFiles } from '../helpers/fixtures.js';
import { expectGolden } from '../helpers/golden.js';
import { gpu } from '../helpers/gpu.js';

// Tolerance: logits within 1e-3 absolute of transformers (f32) at every prompt position; greedy ids equal
// (decoded one token per forward with the latent cache); final_logits within 1e-3.
// maxChunk 5 splits the 12-token prompt, so prefill also reads latents written by an earlier chunk.
describe.each([
  ['deepseek_v3', {}],
  ['deepseek_v3_nolora', { maxChunk: 5 }],
] as [string, { maxChunk?: number }][])('fixture %s (f32): MLA + DeepSeekMoE', (name, extra) => {
  it('reproduces the logits, the greedy continuation and final_logits; caches only the latent', async () => {
    const ctx = await gpu();
    const exp = await expected(name);
    const T = exp.inputIds.length;
    const N = exp.greedyIds.length;
    const model = (await loadModel(ctx, fixtureFiles(name), { dtype: 'f32', maxContext: T + N + 1, ...extra })) as DecoderModel;
    try {
      await expectGolden(ctx, model, exp);

      const mla = model.config.mla!;
      const { latent, gqa } = mlaCacheBytes(mla);
      const layer = model.cache.layers[0]!;
      expect(layer.k.shape).toEqual([layer.capacity, 1, mla.kvLoraRank + mla.ropeDim]);
      console.log(`${name}: KV cache ${latent} B/token/layer (latent) vs ${gqa} B/token/layer for plain per-head K and V (${(gqa / latent).toFixed(1)}x)`);
      expect(latent).toBeLessThan(gqa);
    } finally {
      model.dispose();
    }
  });
});
