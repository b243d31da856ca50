/**
 * Where a decode token's GPU time goes: the captured decode step of a model of a real shape (random weights),
 * and the sampler's, timed dispatch by dispatch. Each dispatch of the recording is repeated `--reps` times back
 * to back in one compute pass (each repeat depends on the one before, as the step's chain does), so its figure
 * includes the dependent-dispatch floor; the sum over the step is set beside the whole step replayed back to
 * back and the pipelined decode rate. Run on the GPU machine:
 *
 *   node dist/bench/decodeAnatomy.js --shape qwen2.5-1.5b --dtype q4_0 [--contexts 128,4096] [--reps 50] [--out a.json]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Sampler } from '../src/engine/sampler.js';
import { OP_COPY, OP_DISPATCH, type StepRecording } from '../src/gpu/capture.js';
import type { GpuContext } from '../src/gpu/context.js';
import type { KernelOverrides } from '../src/gpu/kernelOverrides.js';
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
    contexts: { type: 'string', default: '128,4096' },
    reps: { type: 'string', default: '50' },
    decode: { type: 'string', default: '64' },
    out: { type: 'string' },
    /** Kernel overrides as JSON (src/gpu/kernelOverrides.ts), e.g. '{"attention":{"headsPerGroup":2}}'. */
    overrides: { type: 'string' },
  },
});

interface OpFigure {
  index: number;
  label: string;
  grid: string;
  us: number;
}

/** Median wall time per call of `reps` back-to-back calls of `record`, over 5 rounds after one warm-up. */
async function timeReps(ctx: GpuContext, reps: number, record: (pass: GPUComputePassEncoder, enc: GPUCommandEncoder) => void): Promise<number> {
  const dev = ctx.device;
  const rounds: number[] = [];
  for (let r = 0; r < 6; r++) {
    const enc = dev.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let i = 0; i < reps; i++) record(pass, enc);
    pass.end();
    const t0 = performance.now();
    dev.queue.submit([enc.finish()]);
    await dev.queue.onSubmittedWorkDone();
    if (r > 0) rounds.push(((performance.now() - t0) * 1000) / reps);
  }
  rounds.sort((x, y) => x - y);
  return rounds[rounds.length >> 1]!;
}

function dispatchOf(rec: StepRecording, op: number, d: number, b: number): (pass: GPUComputePassEncoder) => void {
  const pipeline = rec.pipelines[d]!;
  const group = rec.groups[d]!;
  const g = rec.grids;
  if (op === OP_DISPATCH) {
    return (pass) => {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(g[3 * d]!, g[3 * d + 1]!, g[3 * d + 2]!);
    };
  }
  const buf = rec.buffers[b]!;
  return (pass) => {
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroupsIndirect(buf, g[3 * d]!);
  };
}

/** Times every dispatch of `rec` alone, and the whole list (copies left out) back to back. */
async function anatomy(ctx: GpuContext, rec: StepRecording, reps: number): Promise<{ ops: OpFigure[]; wholeUs: number; copies: number }> {
  const ops: OpFigure[] = [];
  const all: ((pass: GPUComputePassEncoder) => void)[] = [];
  let d = 0;
  let b = 0;
  let copies = 0;
  for (let i = 0; i < rec.ops.length; i++) {
    const op = rec.ops[i]!;
    if (op === OP_COPY) {
      b += 2;
      copies++;
      continue;
    }
    const run = dispatchOf(rec, op, d, b);
    if (op !== OP_DISPATCH) b++;
    const g = rec.grids;
    const label = rec.pipelines[d]!.label || '?';
    const grid = op === OP_DISPATCH ? `${g[3 * d]}x${g[3 * d + 1]}x${g[3 * d + 2]}` : 'indirect';
    ops.push({ index: d, label, grid, us: await timeReps(ctx, reps, (pass) => run(pass)) });
    all.push(run);
    d++;
  }
  const wholeUs = await timeReps(ctx, Math.max(2, Math.round(reps / 10)), (pass) => all.forEach((run) => run(pass)));
  return { ops, wholeUs, copies };
}

function summarize(ops: OpFigure[]): { label: string; count: number; totalUs: number; meanUs: number }[] {
  const by = new Map<string, { count: number; totalUs: number }>();
  for (const o of ops) {
    const key = o.label.length > 120 ? o.label.slice(0, 120) + '...' : o.label;
    const e = by.get(key) ?? { count: 0, totalUs: 0 };
    e.count++;
    e.totalUs += o.us;
    by.set(key, e);
  }
  return [...by.entries()].map(([label, e]) => ({ label, ...e, meanUs: e.totalUs / e.count })).sort((x, y) => y.totalUs - x.totalUs);
}

const raw = benchShapes[a.shape!];
if (!raw) throw new Error(`unknown shape ${a.shape}; known: ${Object.keys(benchShapes).join(', ')}`);
const reps = Number(a.reps);
const decodeN = Number(a.decode);
const contexts = a.contexts!.split(',').map(Number);
const ctx = await createNodeGpu();
if (a.overrides) ctx.kernelOverrides = JSON.parse(a.overrides) as KernelOverrides;
const config = normalizeConfig(raw, {}, a.shape);
const model = await buildModel(ctx, config, randomWeightSource(raw, a.dtype as DType), {
  dtype: 'auto',
  maxContext: Math.max(...contexts) + decodeN + 8,
  maxChunk: 512,
});
const sampler = new Sampler(ctx, config.vocabSize);
sampler.begin({ temperature: 0 }, []);
const ids = (n: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 13) % config.vocabSize);
const results: Record<string, unknown>[] = [];
for (const context of contexts) {
  let pos = 0;
  let next = 0;
  while (pos < context) {
    const n = Math.min(512, context - pos);
    next = await sampler.next(model.forward(ids(n), pos));
    pos += n;
  }
  // The pipelined decode rate (as generateTokens runs it); its steps capture the recordings timed below.
  let pending = sampler.record(model.forward([next], pos++));
  const t0 = performance.now();
  for (let i = 1; i < decodeN; i++) {
    const ahead = sampler.record(model.forward([0], pos++, { idFrom: sampler.lastId }));
    next = await pending;
    pending = ahead;
  }
  await pending;
  const tokenUs = ((performance.now() - t0) * 1000) / (decodeN - 1);
  const step = model.decodeStep.latest;
  const draw = sampler.step.latest;
  if (!step || !draw) throw new Error('no captured decode step (is replay off?)');
  const forward = await anatomy(ctx, step, reps);
  const sample = await anatomy(ctx, draw, reps);
  const sumUs = (o: OpFigure[]) => o.reduce((s, x) => s + x.us, 0);
  const r = {
    context,
    tokenUs,
    dispatches: forward.ops.length + sample.ops.length,
    forward: { sumUs: sumUs(forward.ops), wholeUs: forward.wholeUs, copies: forward.copies, byKernel: summarize(forward.ops), ops: forward.ops },
    sample: { sumUs: sumUs(sample.ops), wholeUs: sample.wholeUs, byKernel: summarize(sample.ops) },
  };
  results.push(r);
  console.log(
    `context ${context}: token ${tokenUs.toFixed(0)} us pipelined; forward ${r.forward.ops.length} dispatches, sum ${r.forward.sumUs.toFixed(0)} us, whole b2b ${forward.wholeUs.toFixed(0)} us; sampler ${sample.ops.length} dispatches, sum ${r.sample.sumUs.toFixed(0)} us`,
  );
  for (const k of r.forward.byKernel)
    console.log(`  ${k.totalUs.toFixed(0).padStart(6)} us  ${String(k.count).padStart(4)} x ${k.meanUs.toFixed(1).padStart(6)} us  ${k.label}`);
  for (const k of r.sample.byKernel)
    console.log(`  ${k.totalUs.toFixed(0).padStart(6)} us  ${String(k.count).padStart(4)} x ${k.meanUs.toFixed(1).padStart(6)} us  [sampler] ${k.label}`);
}
const report = { date: new Date().toISOString(), adapter: ctx.adapterInfo, shape: a.shape, dtype: a.dtype, reps, results };
if (a.out) writeFileSync(a.out, JSON.stringify(report, null, 2));
ctx.destroy();
process.exit(0);
