import { describe, it } from 'vitest';
import type { DecoderModel } from '../../src/models/decoder.js';
import { loadModel } from '../../src/models/load.js';
import type { GpuContext } from '../../src/gpu/context.js';
import { expected, fixtureFiles } from '../helpers/fixtures.js';
import { expectGolden } from '../helpers/golden.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/random.js';

/** Max abs difference of the residual stream after each layer vs hidden.i (prints where a model departs). */
async function hiddenDiffs(ctx: GpuContext, model: DecoderModel, ids: number[], hidden: Float32Array[]): Promise<number[]> {
  const caps: { layer: number; t: ReturnType<GpuContext['createTensor']> }[] = [];
  model.hiddenHook = (layer, h) => {
    const t = ctx.createTensor(h.shape, 'f32');
    ctx.copy(h, t, h.shape[0]! * h.shape[1]! * 4);
    caps.push({ layer, t });
  };
  model.forward(ids, 0);
  model.hiddenHook = undefined;
  const out: number[] = [];
  for (const { layer, t } of caps) if (layer < hidden.length - 1) out[layer] = maxAbsDiff(await ctx.readF32(t), hidden[layer]!);
  return out;
}

// Tolerance: logits within 1e-3 absolute of transformers (f32) at every prompt position; greedy ids equal.
// maxChunk: small chunks make the sliding-window rings wrap (capacity window + chunk - 1) and split prefill.
describe.each([
  ['llama', {}],
  ['qwen2', {}],
  ['qwen3', {}],
  ['mistral_swa', { maxChunk: 3 }],
  ['llama_long', { maxChunk: 64 }],
  ['gemma3_text', { maxChunk: 5 }],
] as [string, { maxChunk?: number }][])('fixture %s (f32)', (name, extra) => {
  it('reproduces the logits at every prompt position and the greedy continuation', async () => {
    const ctx = await gpu();
    const exp = await expected(name);
    const T = exp.inputIds.length;
    const N = exp.greedyIds.length;
    const model = await loadModel(ctx, fixtureFiles(name), { dtype: 'f32', maxContext: T + N + 1, ...extra });
    try {
      await expectGolden(ctx, model, exp, {
        onLogitsMiss: async () => {
          if (T > (extra.maxChunk ?? 128)) return;
          console.log(name, 'max |h - hidden.i| per layer:', await hiddenDiffs(ctx, model as DecoderModel, exp.inputIds, exp.hidden));
        },
      });
    } finally {
      model.dispose();
    }
  });
});
