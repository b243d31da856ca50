import { describe, expect, it } from 'vitest';
import type { DecoderModel } from '../../src/models/decoder.js';
import { loadModel } from '../../src/models/load.js';
import { expected, fixtureFiles } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/random.js';

// A decode token through fused layers (the norms and residual adds inside the integer-dot GEMVs,
// src/layers/decoderLayer.ts fusedDecoderLayer) against the same token through the separate kernels. They differ
// only in the order the norm sums x² (f32): logits within 1e-4 of the largest. The MoE fixtures cover the fused
// router (shaders/moeRouter.wgsl), a shared expert with its sigmoid gate (qwen2_moe), a router bias (gpt_oss) and MLA
// (deepseek_v3_nolora: the fused x projection reads the norm, o_proj adds to h).
describe.each(['llama', 'qwen2', 'qwen3', 'mistral_swa', 'qwen3_moe', 'qwen2_moe', 'gpt_oss', 'deepseek_v3_nolora'])(
  'fixture %s at q8_0: fused decode layers',
  (name) => {
    it('give the logits of the unfused layers, token after token', async () => {
      const ctx = await gpu();
      const exp = await expected(name);
      const load = async () => (await loadModel(ctx, fixtureFiles(name), { dtype: 'q8_0', maxContext: exp.inputIds.length + 8 })) as DecoderModel;
      const fused = await load();
      const plain = await load();
      // The unfused reference: the same model with every layer taking the separate norm and add kernels.
      const flags = (plain as unknown as { fusedLayers: boolean[] }).fusedLayers;
      expect((fused as unknown as { fusedLayers: boolean[] }).fusedLayers.every(Boolean)).toBe(true);
      flags.fill(false);
      try {
        const prompt = exp.inputIds.slice(0, 5);
        await ctx.readF32(fused.forward(prompt, 0));
        await ctx.readF32(plain.forward(prompt, 0));
        for (let i = 0; i < 6; i++) {
          const id = exp.inputIds[5 + i] ?? 1;
          const a = (await ctx.readF32(fused.forward([id], 5 + i))).slice();
          const b = await ctx.readF32(plain.forward([id], 5 + i));
          const scale = Math.max(...b.map(Math.abs));
          expect(maxAbsDiff(a, b) / scale, `${name} position ${5 + i}`).toBeLessThan(1e-4);
        }
      } finally {
        fused.dispose();
        plain.dispose();
      }
    });
  },
);
