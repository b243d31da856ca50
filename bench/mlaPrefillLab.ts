/**
 * MLA prefill, absorbed against naive form (src/layers/mla.ts; kernelOverrides.mlaPrefill): the wall time of a prompt's
 * prefill to its first sampled token through the model of a real shape (random weights, `--layers` of its
 * decoder layers so that it loads fast), each form in turn, median of `--reps` after one warm-up; the greedy
 * first token of both forms is printed beside (they should agree). Run on the GPU machine:
 *
 * (`--shape tiny-mla`: tiny widths, a check of the tool on SwiftShader.)
 *
 *   node dist/bench/mlaPrefillLab.js [--shape deepseek-v2-lite] [--dtype q4_0] [--layers 6] [--tokens 512,2048] [--reps 3] [--out a.json]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Sampler } from '../src/engine/sampler.js';
import type { DType } from '../src/gpu/tensor.js';
import { buildModel } from '../src/models/load.js';
import { normalizeConfig } from '../src/models/registry.js';
import { createNodeGpu } from '../src/node/gpu.js';
import { randomWeightSource } from './randomWeights.js';
import { benchShapes } from './shapes.js';

const { values: a } = parseArgs({
  options: {
    shape: { type: 'string', default: 'deepseek-v2-lite' },
    dtype: { type: 'string', default: 'q4_0' },
    layers: { type: 'string', default: '6' },
    tokens: { type: 'string', default: '512,2048' },
    reps: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});

// A tiny MLA shape to check the tool on SwiftShader (never timed there).
const tinyMla = {
  ...benchShapes['deepseek-v2-lite']!,
  hidden_size: 64,
  intermediate_size: 96,
  moe_intermediate_size: 32,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  n_routed_experts: 4,
  num_experts_per_tok: 2,
  n_shared_experts: 1,
  kv_lora_rank: 32,
  qk_nope_head_dim: 16,
  qk_rope_head_dim: 16,
  v_head_dim: 16,
  vocab_size: 512,
};
const base = a.shape === 'tiny-mla' ? tinyMla : benchShapes[a.shape!];
if (!base?.kv_lora_rank) throw new Error(`${a.shape} is not an MLA shape`);
const raw = { ...base, num_hidden_layers: Number(a.layers) };
const tokens = a.tokens!.split(',').map(Number);
const reps = Number(a.reps);
const ctx = await createNodeGpu();
const config = normalizeConfig(raw, {}, a.shape);
const model = await buildModel(ctx, config, randomWeightSource(raw, a.dtype as DType), { dtype: 'auto', maxContext: Math.max(...tokens) + 8, maxChunk: 512 });
const sampler = new Sampler(ctx, config.vocabSize);
sampler.begin({ temperature: 0 }, []);
const ids = (n: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 13) % config.vocabSize);

/** Wall ms of prefilling n tokens from position 0 in chunks of 512, to the first sampled id. */
async function prefill(n: number): Promise<{ ms: number; id: number }> {
  const t0 = performance.now();
  let id = 0;
  for (let pos = 0; pos < n; pos += 512) id = await sampler.next(model.forward(ids(Math.min(512, n - pos)), pos));
  return { ms: performance.now() - t0, id };
}

const results: Record<string, unknown>[] = [];
for (const n of tokens) {
  for (const form of ['absorbed', 'naive'] as const) {
    ctx.kernelOverrides = { mlaPrefill: { form } };
    await prefill(n);
    const ms: number[] = [];
    let id = 0;
    for (let r = 0; r < reps; r++) {
      const x = await prefill(n);
      ms.push(x.ms);
      id = x.id;
    }
    ms.sort((x, y) => x - y);
    const med = ms[ms.length >> 1]!;
    results.push({ tokens: n, form, ms: med, all: ms, firstId: id });
    console.log(
      `${a.shape} ${a.layers} layers ${a.dtype}, ${n} tokens, ${form.padEnd(8)}: ${med.toFixed(1)} ms (${((n / med) * 1000).toFixed(0)} tok/s), first id ${id}, runs ${ms.map((x) => x.toFixed(1)).join(' ')}`,
    );
  }
}
if (a.out)
  writeFileSync(
    a.out,
    JSON.stringify({ date: new Date().toISOString(), adapter: ctx.adapterInfo, shape: a.shape, layers: a.layers, dtype: a.dtype, results }, null, 2),
  );
model.dispose();
ctx.destroy();
process.exit(0);
