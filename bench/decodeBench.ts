/**
 * End-to-end prefill and decode speed of a model of a real shape with random weights (generated here,
 * never downloaded). Run on the GPU machine:
 *
 *   node dist/bench/decodeBench.js --shape qwen2.5-1.5b --dtype q4_0 [--prompt 512] [--decode 64]
 *        [--contexts 128,4096] [--gemv int8|f32] [--pipeline on|off] [--planes on|off] [--replay on|off] [--out result.json]
 *
 * Reports prefill tokens/s, decode tokens/s at each context length (the KV cache is filled to that length
 * first), and the weight bytes read per decode token over the time per token as an effective bandwidth.
 * --replay off records every decode step through the kernels instead of replaying the captured one
 * (src/gpu/capture.ts).
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
    shape: { type: 'string', default: 'qwen2.5-1.5b' },
    dtype: { type: 'string', default: 'q4_0' },
    prompt: { type: 'string', default: '512' },
    decode: { type: 'string', default: '64' },
    contexts: { type: 'string', default: '128,4096' },
    /** The decode GEMV: int8 (integer dot, the default where WGSL has it) or f32 (pairs / generic kernels). */
    gemv: { type: 'string', default: 'int8' },
    /** Decode as generateTokens does (step t + 1 submitted before step t's id is read back), or one step at a time. */
    pipeline: { type: 'string', default: 'on' },
    planes: { type: 'string', default: 'on' },
    replay: { type: 'string', default: 'on' },
    out: { type: 'string' },
  },
});
const raw = benchShapes[a.shape!];
if (!raw) throw new Error(`unknown shape ${a.shape}; known: ${Object.keys(benchShapes).join(', ')}`);
const dtype = a.dtype as DType;
const promptLen = Number(a.prompt);
const decodeN = Number(a.decode);
const contexts = a.contexts!.split(',').map(Number);
const maxContext = Math.max(promptLen, ...contexts) + decodeN + 8;

if (a.gemv !== 'int8' && a.gemv !== 'f32') throw new Error(`--gemv is int8 or f32, not ${a.gemv}`);
if (a.pipeline !== 'on' && a.pipeline !== 'off') throw new Error(`--pipeline is on or off, not ${a.pipeline}`);
if (a.planes !== 'on' && a.planes !== 'off') throw new Error(`--planes is on or off, not ${a.planes}`);
if (a.replay !== 'on' && a.replay !== 'off') throw new Error(`--replay is on or off, not ${a.replay}`);
const ctx = await createNodeGpu();
// --gemv f32: the pairs / generic GEMVs; --planes off: the decode GEMVs encode x in each workgroup instead of
// reading the planes the norms write.
const gemv = { ...(a.gemv === 'f32' ? { int8: false } : {}), ...(a.planes === 'off' ? { planes: false } : {}) };
if (Object.keys(gemv).length) ctx.kernelOverrides = { gemv };
ctx.replay = a.replay === 'on';
const config = normalizeConfig(raw, {}, a.shape);
const weights = randomWeightSource(raw, dtype);
const t0 = performance.now();
const model = await buildModel(ctx, config, weights, { dtype: 'auto', maxContext, maxChunk: Math.min(512, promptLen) });
await ctx.sync();
const loadMs = performance.now() - t0;
const sampler = new Sampler(ctx, config.vocabSize);
sampler.begin({ temperature: 0 }, []);

// Bytes a decode token reads: every matrix (experts scaled to the share selected), the lm_head, one embedding row.
let weightBytes = 0;
const E = (raw.num_experts as number | undefined) ?? 0;
const k = (raw.num_experts_per_tok as number | undefined) ?? 0;
for (const t of weights.tensors.values()) {
  if (t.name === 'model.embed_tokens.weight') {
    weightBytes += raw.tie_word_embeddings ? t.byteLength : t.byteLength / (raw.vocab_size as number);
  } else if (/\.experts\.\d+\./.test(t.name)) {
    weightBytes += (t.byteLength * k) / E;
  } else {
    weightBytes += t.byteLength;
  }
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 13) % config.vocabSize);
// Warm-up: compile every pipeline of prefill and decode once.
await sampler.next(model.forward(ids(Math.min(promptLen, 16)), 0));
await sampler.next(model.forward([1], Math.min(promptLen, 16)));

let start = performance.now();
let next = await sampler.next(model.forward(ids(promptLen), 0));
const prefillMs = performance.now() - start;

const decode: Record<string, number>[] = [];
for (const context of contexts) {
  // Rewind to `context`, or fill the cache up to it in prompt-sized chunks (their speed is not measured).
  let pos = Math.min(context, model.cachedLength);
  while (pos < context) {
    const n = Math.min(promptLen, context - pos);
    next = await sampler.next(model.forward(ids(n), pos));
    pos += n;
  }
  start = performance.now();
  let recordMs = 0;
  const d0 = ctx.dispatchCount;
  if (a.pipeline === 'off') {
    for (let i = 0; i < decodeN; i++) {
      const r0 = performance.now();
      const logits = model.forward([next], pos++);
      recordMs += performance.now() - r0;
      next = await sampler.next(logits);
    }
  } else {
    // As generateTokens: each step is fed the id of the one before on the GPU and submitted before that id
    // is read back (the last step's id is not awaited: its cost is the one step the loop runs ahead).
    let pending = sampler.record(model.forward([next], pos++));
    for (let i = 1; i < decodeN; i++) {
      const r0 = performance.now();
      const logits = model.forward([0], pos++, { idFrom: sampler.lastId });
      recordMs += performance.now() - r0;
      const ahead = sampler.record(logits);
      next = await pending;
      pending = ahead;
    }
    next = await pending;
  }
  const ms = (performance.now() - start) / decodeN;
  decode.push({
    context,
    tokensPerS: 1000 / ms,
    msPerToken: ms,
    /** CPU time to record a token's forward pass (the rest is submit, GPU and readback). */
    recordMsPerToken: recordMs / decodeN,
    dispatchesPerToken: (ctx.dispatchCount - d0) / decodeN,
    effectiveGBs: weightBytes / ms / 1e6,
  });
}

const result = {
  date: new Date().toISOString(),
  adapter: ctx.adapterInfo,
  shape: a.shape,
  dtype,
  gemv: a.gemv,
  pipeline: a.pipeline,
  planes: a.planes,
  replay: a.replay,
  weightBytesPerToken: weightBytes,
  loadMs,
  prefill: { tokens: promptLen, ms: prefillMs, tokensPerS: (promptLen * 1000) / prefillMs },
  decode,
};
console.log(JSON.stringify(result));
if (a.out) writeFileSync(a.out, JSON.stringify(result, null, 2));
ctx.destroy();
process.exit(0);
