import { describe, expect, it } from 'vitest';
import { buildModel, ggufWeightsAndConfig, loadModel } from '../../src/models/load.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { expected, fixtureFiles, fixtureWithTokenizer } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/random.js';

async function converted(name: string, type: 'f32' | 'q8_0') {
  return folderFiles(await fixtureWithTokenizer(name, type));
}

// The same weights reach the GPU from GGUF as from safetensors, so the logits are the same floats
// (tolerance 1e-6), and within 1e-3 of transformers at every prompt position.
describe.each(['llama', 'qwen2', 'qwen3', 'qwen3_moe'])('GGUF %s on the GPU', (name) => {
  it('f32 GGUF: the same logits as from safetensors (and as transformers)', async () => {
    const ctx = await gpu();
    const exp = await expected(name);
    const T = exp.inputIds.length;
    const { config, weights } = await ggufWeightsAndConfig(await converted(name, 'f32'), 'model.gguf');
    const fromGguf = await buildModel(ctx, config, weights, { dtype: 'auto', maxContext: T + 1 });
    const fromSt = await loadModel(ctx, fixtureFiles(name), { dtype: 'auto', maxContext: T + 1 });
    try {
      const a = await ctx.readF32(fromGguf.forward(exp.inputIds, 0, { allLogits: true }));
      const b = await ctx.readF32(fromSt.forward(exp.inputIds, 0, { allLogits: true }));
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
      expect(maxAbsDiff(a, exp.logits)).toBeLessThan(1e-3);
    } finally {
      fromGguf.dispose();
      fromSt.dispose();
    }
  });
});

describe.each(['qwen2', 'llama'])('GGUF Q8_0 %s uploads as stored', (name) => {
  it('a q8_0 GGUF loaded as stored gives the logits of safetensors quantized to q8_0 at load (llama: permuted q/k blocks put back)', async () => {
    const ctx = await gpu();
    const exp = await expected(name);
    const T = exp.inputIds.length;
    const { config, weights } = await ggufWeightsAndConfig(await converted(name, 'q8_0'), 'model.gguf');
    expect(weights.tensors.get('model.layers.0.mlp.down_proj.weight')!.dtype).toBe('q8_0');
    const fromGguf = await buildModel(ctx, config, weights, { dtype: 'auto', maxContext: T + 1 });
    const fromSt = await loadModel(ctx, fixtureFiles(name), { dtype: 'q8_0', maxContext: T + 1 });
    try {
      const a = await ctx.readF32(fromGguf.forward(exp.inputIds, 0, { allLogits: true }));
      const b = await ctx.readF32(fromSt.forward(exp.inputIds, 0, { allLogits: true }));
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    } finally {
      fromGguf.dispose();
      fromSt.dispose();
    }
  });
});
