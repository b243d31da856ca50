import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/models/load.js';
import { compareLogits, expected, fixtureFiles, QUANT_LIMITS as limits } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/random.js';

// Weights quantized at load vs the f32 reference logits at every prompt position.
// Thresholds over the prompt positions: QUANT_LIMITS (test/helpers/fixtures.ts). Measured (SwiftShader): q8_0 KL
// <= 0.0001 and top-1 100% on all three; q4_0 KL 0.024 and top-1 9/12 on llama, KL <= 1e-5 and 100% on qwen2 /
// gemma3_text (their tied-embedding logits are very peaked).

describe.each(['llama', 'qwen2', 'gemma3_text'])('fixture %s quantized at load', (name) => {
  it.each(['q8_0', 'q4_0'] as const)('%s: top-1 agreement and mean KL against f32', async (dtype) => {
    const ctx = await gpu();
    const exp = await expected(name);
    const model = await loadModel(ctx, fixtureFiles(name), { dtype, maxContext: exp.inputIds.length });
    try {
      expect(model.info.weightDType).toBe(dtype);
      const V = model.info.vocabSize;
      const logits = await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true }));
      const r = compareLogits(exp.logits, logits, V);
      console.log(
        `${name} ${dtype}: mean KL ${r.meanKl.toFixed(5)}, top-1 ${(100 * r.top1).toFixed(1)}% of ${exp.inputIds.length}, max |Δlogit| ${maxAbsDiff(logits, exp.logits).toFixed(3)}`,
      );
      expect(r.meanKl).toBeLessThan(limits[dtype].meanKl);
      expect(r.top1).toBeGreaterThanOrEqual(limits[dtype].top1);
    } finally {
      model.dispose();
    }
  });
});
