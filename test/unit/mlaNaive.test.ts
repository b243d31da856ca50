import { describe, it } from 'vitest';
import type { DecoderModel } from '../../src/models/decoder.js';
import { loadModel } from '../../src/models/load.js';
import { expected, fixtureFiles } from '../helpers/fixtures.js';
import { expectGolden } from '../helpers/golden.js';
import { gpu } from '../helpers/gpu.js';
import { overrideKernels } from '../helpers/overrides.js';

// The naive MLA prefill (keys and values decompressed with kv_b_proj, per-head attention) on the DeepSeek
// fixtures: logits within 1e-3 of transformers (f32) at every prompt position, greedy ids equal. maxChunk 5
// splits the prompt, so a later chunk decompresses latents an earlier chunk wrote.
describe.each([
  ['deepseek_v3', {}],
  ['deepseek_v3_nolora', { maxChunk: 5 }],
] as [string, { maxChunk?: number }][])('fixture %s (f32), naive MLA prefill', (name, extra) => {
  it('reproduces the logits and the greedy continuation', async () => {
    await overrideKernels({ mlaPrefill: { form: 'naive' } });
    const ctx = await gpu();
    const exp = await expected(name);
    const model = (await loadModel(ctx, fixtureFiles(name), {
      dtype: 'f32',
      maxContext: exp.inputIds.length + exp.greedyIds.length + 1,
      ...extra,
    })) as DecoderModel;
    try {
      await expectGolden(ctx, model, exp);
    } finally {
      model.dispose();
    }
  });
});
