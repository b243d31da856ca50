/**
 * CPU cost of recording a decode step, apart from the GPU: a model with the layer structure of a real one
 * (dispatches per token) but tiny widths, so that the GPU work is negligible even on SwiftShader. Reports
 * µs of CPU per recorded dispatch; run with `node --cpu-prof` to see where it goes.
 *
 *   npm run build && node dist/bench/recordProfile.js [--layers 28] [--steps 200] [--dtype q4_0] [--replay on|off]
 *
 * --replay off records every step through the kernels; on (the default) replays the step captured once
 * (src/gpu/capture.ts). recordMsPerStep: CPU time of the forward; sampleMsPerStep: of the sampler (its
 * dispatches and the submit); usPerDispatch: both over the dispatches of a step.
 */
import { parseArgs } from 'node:util';
import { Sampler } from '../src/engine/sampler.js';
import type { DType } from '../src/gpu/tensor.js';
import { buildModel } from '../src/models/load.js';
import { normalizeConfig } from '../src/models/registry.js';
import { createNodeGpu } from '../src/node/gpu.js';
import { gemvTuning } from '../src/kernels/matmul.js';
import { randomWeightSource } from './randomWeights.js';

const { values: a } = parseArgs({
  options: {
    layers: { type: 'string', default: '28' },
    steps: { type: 'string', default: '200' },
    dtype: { type: 'string', default: 'q4_0' },
    planes: { type: 'string', default: 'on' },
    replay: { type: 'string', default: 'on' },
  },
});
if (a.replay !== 'on' && a.replay !== 'off') throw new Error(`--replay is on or off, not ${a.replay}`);
gemvTuning.planes = a.planes === 'off' ? false : undefined;
const raw = {
  model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], hidden_size: 256, intermediate_size: 512,
  num_hidden_layers: Number(a.layers), num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 512,
  max_position_embeddings: 4096, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: true, hidden_act: 'silu',
};
const steps = Number(a.steps);
const ctx = await createNodeGpu();
ctx.replay = a.replay === 'on';
const config = normalizeConfig(raw, {}, 'record-profile');
const model = await buildModel(ctx, config, randomWeightSource(raw, a.dtype as DType), { dtype: 'auto', maxContext: steps + 64, maxChunk: 16 });
const sampler = new Sampler(ctx, config.vocabSize);
sampler.begin({ temperature: 0 }, []);
let next = await sampler.next(model.forward([1, 2, 3, 4], 0));
let pos = 4;
let recordMs = 0;
let sampleMs = 0;
const d0 = ctx.dispatchCount;
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  const logits = model.forward([next], pos++);
  const t1 = performance.now();
  const id = sampler.next(logits);
  sampleMs += performance.now() - t1;
  recordMs += t1 - t0;
  next = await id;
}
const dispatches = (ctx.dispatchCount - d0) / steps;
console.log(
  JSON.stringify({
    replay: a.replay,
    layers: raw.num_hidden_layers,
    dispatchesPerStep: dispatches,
    recordMsPerStep: recordMs / steps,
    sampleMsPerStep: sampleMs / steps,
    usPerDispatch: ((recordMs + sampleMs) * 1000) / steps / dispatches,
  }),
);
ctx.destroy();
