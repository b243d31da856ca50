/**
 * Where the GPU time of a long prompt's prefill goes: the public model's forward of a T-token prompt (random
 * weights of a real shape, chunks of `--chunk` tokens as the engine runs them), timed dispatch by dispatch
 * with GPU timestamps (each dispatch in a compute pass of its own) and summed per kernel, per kind (GEMM,
 * attention, norm, rope + cache write, ...) and per chunk; set beside the wall time of the same prefill to the
 * first sampled token (as a user's time to first token) and the CPU time that records it. Run on the GPU
 * machine:
 *
 *   node dist/bench/prefillAnatomy.js --shape qwen2.5-1.5b --dtype q4_0 [--tokens 512,4096] [--chunk 512[,1024]]
 *        [--attn auto[,rows,flash32,flash64,flash64w1024]] [--reps 3] [--out a.json]
 *
 * `--chunk` values build the model again with that maxChunk; `--attn` picks the attention prefill kernel
 * (src/kernels/attentionPrefill.ts, through kernelOverrides.attentionPrefill). `--shape tiny` is a two-layer model of tiny
 * widths (a check of the tool on SwiftShader).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Sampler } from '../src/engine/sampler.js';
import type { Binding, GpuContext } from '../src/gpu/context.js';
import type { Pipeline, PipelineKey } from '../src/gpu/pipelineCache.js';
import type { Params } from '../src/gpu/params.js';
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
    tokens: { type: 'string', default: '512,4096' },
    chunk: { type: 'string', default: '512' },
    attn: { type: 'string', default: 'auto' },
    reps: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});

const tiny = {
  model_type: 'qwen2',
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 128,
  intermediate_size: 256,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 512,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
};

/** One dispatch of the prefill: which kernel, its grid, its chunk, and its GPU time. */
interface DispatchFigure {
  kernel: string;
  kind: string;
  grid: string;
  chunk: number;
  us: number;
}

/** What a kernel is, for the summary: GEMMs, attention, norms, rope and the cache write, the rest by name. */
function kindOf(shader: string): string {
  if (/^matmul|gemm|headMatmul/i.test(shader)) return 'gemm';
  if (/^attention/.test(shader)) return 'attention';
  if (/norm/i.test(shader)) return 'norm';
  if (/rope|kv/i.test(shader)) return 'rope+cache';
  if (/^embedding/.test(shader)) return 'embedding';
  return 'other';
}

const QUERIES = 4096; // timestamps per query set (WebGPU's limit)

/**
 * Records `run` with every dispatch in a timed compute pass of its own and returns the dispatches' GPU
 * times, in order. A chunk starts at each embedding dispatch (the decoder's first of a chunk).
 */
async function timeDispatches(ctx: GpuContext, run: () => void): Promise<DispatchFigure[]> {
  const sets: GPUQuerySet[] = [];
  const seen: Omit<DispatchFigure, 'us'>[] = [];
  let chunk = -1;
  const dispatch = ctx.dispatch;
  const dispatchIndirect = ctx.dispatchIndirect;
  const timed = (p: Pipeline | PipelineKey, grid: string) => {
    const key = 'pipeline' in p ? p.key : p;
    if (key.shader === 'embedding') chunk++;
    const i = seen.length;
    if (i % (QUERIES / 2) === 0) sets.push(ctx.device.createQuerySet({ type: 'timestamp', count: QUERIES, label: 'prefillAnatomy' }));
    ctx.timedPass(sets.at(-1)!, 2 * (i % (QUERIES / 2)), 2 * (i % (QUERIES / 2)) + 1);
    seen.push({ kernel: key.entry ? `${key.shader}:${key.entry}` : key.shader, kind: kindOf(key.shader), grid, chunk: Math.max(chunk, 0) });
  };
  ctx.dispatch = (p: Pipeline | PipelineKey, b: readonly Binding[], w: readonly [number, number?, number?], params?: Params) => {
    const [x, y = 1, z = 1] = w;
    if (x > 0 && y > 0 && z > 0) timed(p, `${x}x${y}x${z}`);
    dispatch.call(ctx, p, b, w, params);
  };
  ctx.dispatchIndirect = (p: Pipeline | PipelineKey, b: readonly Binding[], buf: GPUBuffer, off: number, params?: Params) => {
    timed(p, 'indirect');
    dispatchIndirect.call(ctx, p, b, buf, off, params);
  };
  try {
    run();
  } finally {
    ctx.dispatch = dispatch;
    ctx.dispatchIndirect = dispatchIndirect;
  }
  const resolved = ctx.createBuffer(QUERIES * 8 * sets.length, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, 'prefillAnatomy.resolved');
  sets.forEach((s, k) => {
    const n = Math.min(QUERIES, 2 * (seen.length - k * (QUERIES / 2)));
    ctx.resolveQueries(s, 0, n, resolved, k * QUERIES * 8);
  });
  const ts = new BigUint64Array(await ctx.read(resolved));
  ctx.destroyBuffer(resolved);
  for (const s of sets) s.destroy();
  const at = (i: number) => (Math.floor(i / (QUERIES / 2)) * QUERIES + 2 * (i % (QUERIES / 2))) as number;
  // A pass's start timestamp may be written before the pass before it ends: count from the later of the two.
  return seen.map((d, i) => {
    const begin = ts[at(i)]!;
    const prevEnd = i > 0 ? ts[at(i - 1) + 1]! : 0n;
    const start = prevEnd > begin ? prevEnd : begin;
    return { ...d, us: Number(ts[at(i) + 1]! - start) / 1000 };
  });
}

function sumBy(ds: DispatchFigure[], key: (d: DispatchFigure) => string): { name: string; count: number; us: number }[] {
  const by = new Map<string, { count: number; us: number }>();
  for (const d of ds) {
    const e = by.get(key(d)) ?? { count: 0, us: 0 };
    e.count++;
    e.us += d.us;
    by.set(key(d), e);
  }
  return [...by.entries()].map(([name, e]) => ({ name, ...e })).sort((x, y) => y.us - x.us);
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;

/**
 * `--attn` variants: `auto` (the kernel the engine picks), `rows` (the row kernel), `flash32` / `flash64` (the
 * flash kernel, 32 or 64 keys per tile), with `d<16|32>` after it the head dims per Q/K slab and `w<n>` key
 * splits aimed at n workgroups.
 */
function setAttention(variant: string): void {
  const m = /^(auto|rows|flash(32|64))(?:d(16|32))?(?:w(\d+))?$/.exec(variant);
  if (!m) throw new Error(`--attn ${variant}: auto, rows, flash32 or flash64, optionally followed by d<16|32> and w<workgroups>`);
  ctx.kernelOverrides = {
    attentionPrefill: {
      kernel: m[1] === 'rows' ? 'rows' : m[2] ? 'flash' : 'auto',
      bk: m[2] ? (Number(m[2]) as 32 | 64) : undefined,
      ds: m[3] ? (Number(m[3]) as 16 | 32) : undefined,
      targetWorkgroups: m[4] ? Number(m[4]) : undefined,
    },
  };
}

const raw = a.shape === 'tiny' ? tiny : benchShapes[a.shape!];
if (!raw) throw new Error(`unknown shape ${a.shape}; known: tiny, ${Object.keys(benchShapes).join(', ')}`);
const tokens = a.tokens!.split(',').map(Number);
const chunks = a.chunk!.split(',').map(Number);
const variants = a.attn!.split(',');
const reps = Number(a.reps);
const ctx = await createNodeGpu();
if (!ctx.features.timestampQuery) throw new Error('prefillAnatomy needs timestamp-query');
console.log(
  `${ctx.adapterInfo.description}: workgroup memory ${ctx.limits.maxComputeWorkgroupStorageSize} bytes, ${ctx.limits.maxComputeInvocationsPerWorkgroup} invocations`,
);
const config = normalizeConfig(raw, {}, a.shape);
const results: Record<string, unknown>[] = [];
for (const chunk of chunks) {
  const model = await buildModel(ctx, config, randomWeightSource(raw, a.dtype as DType), {
    dtype: 'auto',
    maxContext: Math.max(...tokens) + 8,
    maxChunk: chunk,
  });
  const sampler = new Sampler(ctx, config.vocabSize);
  sampler.begin({ temperature: 0 }, []);
  const ids = (n: number, seed: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 13 + seed) % config.vocabSize);
  for (const variant of variants) {
    setAttention(variant);
    for (const T of tokens) {
      // Warm-up (pipelines compiled), then the wall time to the first sampled token and the CPU time recording it.
      // A variant this adapter cannot run (its workgroup memory) is reported and skipped.
      try {
        await sampler.next(model.forward(ids(T, 0), 0));
      } catch (e) {
        console.log(`${a.shape} T=${T} attention ${variant}: ${(e as Error).message}`);
        continue;
      }
      const wall: number[] = [];
      const record: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        const logits = model.forward(ids(T, r + 1), 0);
        record.push(performance.now() - t0);
        await sampler.next(logits);
        wall.push(performance.now() - t0);
      }
      const ds = await timeDispatches(ctx, () => void model.forward(ids(T, 99), 0));
      const gpuUs = ds.reduce((s, d) => s + d.us, 0);
      const nChunks = Math.ceil(T / chunk);
      const r = {
        tokens: T,
        chunk,
        attention: variant,
        chunks: nChunks,
        wallMs: median(wall),
        recordMs: median(record),
        dispatches: ds.length,
        gpuSumMs: gpuUs / 1000,
        byKind: sumBy(ds, (d) => d.kind),
        byKernel: sumBy(ds, (d) => `${d.kernel} ${d.grid}`),
        byChunk: Array.from({ length: nChunks }, (_, c) => ({
          chunk: c,
          ...Object.fromEntries(
            sumBy(
              ds.filter((d) => d.chunk === c),
              (d) => d.kind,
            ).map((k) => [k.name, Math.round(k.us)]),
          ),
        })),
      };
      results.push(r);
      // Written after every figure: a run cut short by a time limit keeps what it measured.
      const report = { date: new Date().toISOString(), adapter: ctx.adapterInfo, shape: a.shape, dtype: a.dtype, results };
      if (a.out) writeFileSync(a.out, JSON.stringify(report, null, 2));
      console.log(
        `${a.shape} ${a.dtype} T=${T} chunks of ${chunk}, attention ${variant}: first token ${r.wallMs.toFixed(1)} ms wall ` +
          `(recording ${r.recordMs.toFixed(1)} ms CPU); ${ds.length} dispatches, GPU sum ${r.gpuSumMs.toFixed(1)} ms (one pass each)`,
      );
      for (const k of r.byKind) console.log(`  ${(k.us / 1000).toFixed(2).padStart(8)} ms ${String(k.count).padStart(5)} x  ${k.name}`);
      const att = r.byChunk.map((c) => Math.round(((c as Record<string, number>).attention ?? 0) / 1000));
      const gemm = r.byChunk.map((c) => Math.round(((c as Record<string, number>).gemm ?? 0) / 1000));
      console.log(`  per chunk, ms: attention ${att.join(' ')}; gemm ${gemm.join(' ')}`);
      for (const k of r.byKernel.slice(0, 10))
        console.log(`  ${(k.us / 1000).toFixed(2).padStart(8)} ms ${String(k.count).padStart(5)} x ${(k.us / k.count).toFixed(1).padStart(8)} us  ${k.name}`);
    }
  }
  setAttention('auto');
  sampler.dispose();
  model.dispose();
}
ctx.destroy();
process.exit(0);
