import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeConfig } from '../../src/models/registry.js';
import { expected, fixtureDir, fixtureFiles } from '../helpers/fixtures.js';
import { expectGolden } from '../helpers/golden.js';
import { gpu } from '../helpers/gpu.js';

const rawConfig = (name: string) => JSON.parse(readFileSync(join(fixtureDir(name), 'config.json'), 'utf8'));

describe('MoE config normalisation', () => {
  it('reads routing settings per family', () => {
    const q3 = normalizeConfig(rawConfig('qwen3_moe'));
    expect(q3.moe).toMatchObject({ numExperts: 16, expertIntermediate: 32, route: { topK: 4, scoring: 'softmax', normTopK: true } });
    expect(q3.qkNorm).toBe(true);
    const mx = normalizeConfig(rawConfig('mixtral'));
    expect(mx.moe).toMatchObject({ numExperts: 8, expertIntermediate: 128, route: { topK: 2, normTopK: true }, names: { gate: 'w1', up: 'w3', down: 'w2' } });
    const q2 = normalizeConfig(rawConfig('qwen2_moe'));
    expect(q2.moe).toMatchObject({ sharedIntermediate: 96, route: { normTopK: false }, names: { sharedGate: 'shared_expert_gate' } });
    const gr = normalizeConfig(rawConfig('granitemoe'));
    expect(gr.moe).toMatchObject({ route: { softmaxAfterTopK: true, scale: 0.5 }, names: { stacked: { gateUp: 'input_linear.weight' } } });
    expect(gr).toMatchObject({ embedScale: 2, attentionScale: 0.2, residualScale: 0.5, logitsDivisor: 4 });
    const ds = normalizeConfig(rawConfig('deepseek_v3'));
    expect(ds.moe).toMatchObject({ route: { scoring: 'sigmoid', nGroup: 4, topkGroup: 2, scale: 2.5, normTopK: true }, denseLayers: [true, false, false] });
    expect(ds.mla).toMatchObject({ qLoraRank: 48, kvLoraRank: 32, nopeDim: 32, ropeDim: 16, vDim: 32 });
    expect(ds.mla!.scale).toBeCloseTo(1 / Math.sqrt(48), 7);
    expect(ds.ropeLayout).toBe('interleaved');
    const nl = normalizeConfig(rawConfig('deepseek_v3_nolora'));
    expect(nl.mla!.qLoraRank).toBeUndefined();
    expect(nl.moe).toMatchObject({ sharedIntermediate: 64, denseLayers: [false, false], route: { nGroup: 1, normTopK: false } });
    const ol = normalizeConfig(rawConfig('olmoe'));
    expect(ol).toMatchObject({
      qkNorm: true,
      qkNormOverProjection: true,
      moe: { numExperts: 8, expertIntermediate: 128, route: { topK: 2, normTopK: false } },
    });
    const go = normalizeConfig(rawConfig('gpt_oss'));
    expect(go).toMatchObject({ qkvBias: true, oBias: true, layerTypes: ['sliding', 'full'], slidingWindow: 6 });
    expect(go.moe).toMatchObject({
      route: { topK: 2, softmaxAfterTopK: true },
      clamp: { limit: 7, alpha: 1.702 },
      names: { router: 'router', fused: { gateUp: 'experts.gate_up_proj' } },
    });
  });
});

// Tolerance: logits within 1e-3 absolute of transformers (f32) at every prompt position; greedy ids equal
// (decoded one token per forward); final_logits within 1e-3. maxChunk 5 runs prefill through the grouped
// expert path in several chunks; decode runs the per-pair path.
describe.each([['qwen3_moe'], ['mixtral'], ['qwen2_moe'], ['granitemoe'], ['olmoe'], ['gpt_oss']])('fixture %s (f32): MoE', (name) => {
  it('reproduces the logits, the greedy continuation and final_logits', async () => {
    const ctx = await gpu();
    const exp = await expected(name);
    const T = exp.inputIds.length;
    const N = exp.greedyIds.length;
    const { loadModel } = await import('../../src/models/load.js'); // the config test runs without the kernels
    const model = await loadModel(ctx, fixtureFiles(name), { dtype: 'f32', maxContext: T + N + 1, maxChunk: 5 });
    try {
      await expectGolden(ctx, model, exp);
    } finally {
      model.dispose();
    }
  });
});
