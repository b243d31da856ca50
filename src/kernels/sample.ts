import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import type { BindingKind } from '../gpu/pipelineCache.js';
import { numel, type Tensor } from '../gpu/tensor.js';

export interface SamplingOptions {
  /** 0: greedy (argmax, first index on ties). */
  temperature: number;
  /** Keep the k largest (ties at the k-th value kept); 0 or undefined: off. */
  topK?: number;
  /** Keep the smallest top set whose probability reaches topP; 1 or undefined: off. */
  topP?: number;
  /** Drop tokens whose probability is below minP times the largest; 0 or undefined: off. */
  minP?: number;
  /** HF repetition penalty for seen tokens: logit > 0 ? logit / p : logit * p. */
  repetitionPenalty?: number;
  /** OpenAI: logit -= frequencyPenalty * count + presencePenalty * (count > 0). */
  frequencyPenalty?: number;
  presencePenalty?: number;
}

export interface SampleArgs extends SamplingOptions {
  /** Uniform in [0, 1), drawn by the caller from its seeded generator. */
  random: number;
  /** [V] u32: occurrences of each token so far, for the penalties. */
  counts?: Tensor;
  /** [ceil(V / 32)] u32 bitmask of the allowed tokens (bit i % 32 of word i / 32), from a grammar: the others are never sampled. */
  mask?: Tensor;
}

const CHUNK = 1024;
const LAYOUT: BindingKind[] = ['uniform', 'read', 'read', 'storage', 'storage', 'storage', 'storage', 'storage', 'read'];

interface Scratch {
  readonly z: Tensor; // [V] f32
  readonly blocks: Tensor; // [nb, 2] u32
  readonly hist: Tensor; // [nb, 256, 2] u32
  readonly state: Tensor; // [8] u32
}

const scratches = new WeakMap<GpuContext, Map<number, Scratch>>();

function scratch(ctx: GpuContext, V: number): Scratch {
  let m = scratches.get(ctx);
  if (!m) scratches.set(ctx, (m = new Map()));
  let s = m.get(V);
  if (!s) {
    const nb = Math.ceil(V / CHUNK);
    s = {
      z: ctx.createTensor([V], 'f32', 'sample.z'),
      blocks: ctx.createTensor([nb, 2], 'u32', 'sample.blocks'),
      hist: ctx.createTensor([nb, 256, 2], 'u32', 'sample.hist'),
      state: ctx.createTensor([8], 'u32', 'sample.state'),
    };
    m.set(V, s);
  }
  return s;
}

// Uniforms a captured sampling step rewrites (src/gpu/capture.ts): every setting whose value leaves the dispatches as they are.
const INV_TEMPERATURE = 'sample.invTemperature';
const REPETITION = 'sample.repetitionPenalty';
const FREQUENCY = 'sample.frequencyPenalty';
const PRESENCE = 'sample.presencePenalty';
const TOP_K = 'sample.topK';
const TOP_P = 'sample.topP';
const MIN_P = 'sample.minP';
const RANDOM = 'sample.random';

/**
 * What `sample` records for `o` over V logits: `structure` decides the dispatches (a captured step holds
 * while it is equal); `inputs` are the values in their uniforms, rewritten when a captured step is replayed.
 */
export function samplePlan(o: SampleArgs, V: number) {
  const t = o.temperature;
  const greedy = t === 0;
  const topK = !greedy && o.topK !== undefined && o.topK > 0 && o.topK < V ? Math.floor(o.topK) : 0;
  const topP = !greedy && o.topP !== undefined && o.topP < 1 ? o.topP : 1;
  const minP = !greedy && o.minP !== undefined ? o.minP : 0;
  const rep = o.repetitionPenalty ?? 1;
  const freq = o.frequencyPenalty ?? 0;
  const pres = o.presencePenalty ?? 0;
  const penalised = !!o.counts && (rep !== 1 || freq !== 0 || pres !== 0);
  const inputs: Record<string, number> = {
    [INV_TEMPERATURE]: greedy ? 1 : 1 / t,
    [REPETITION]: rep,
    [FREQUENCY]: freq,
    [PRESENCE]: pres,
    [TOP_K]: topK,
    [TOP_P]: topP,
    [MIN_P]: minP,
    [RANDOM]: o.random,
  };
  const masked = !!o.mask;
  const structure = (greedy ? 1 : 0) | (topK ? 2 : 0) | (topP < 1 ? 4 : 0) | (penalised ? 8 : 0) | (masked ? 16 : 0);
  return { greedy, topK, topP, minP, penalised, masked, structure, inputs };
}

/**
 * Samples one token id from logits [V] (or [1, V]) f32 into out [1] u32, all on the GPU: penalties,
 * temperature, the grammar's token mask, top-k, top-p, min-p, then inverse CDF with `random` over the
 * kept tokens in id order.
 * Top-k and top-p thresholds are found by a 4-digit radix select over histograms (no sort).
 * Dispatches: 2 for greedy, 4 + 8 per top-k / top-p otherwise.
 */
export function sample(ctx: GpuContext, logits: Tensor, out: Tensor, o: SampleArgs): void {
  if (logits.dtype !== 'f32' || !(logits.shape.length === 1 || (logits.shape.length === 2 && logits.shape[0] === 1))) {
    throw new InvalidArgumentError(`sample: logits must be [V] or [1, V] f32, got [${logits.shape}] ${logits.dtype}`);
  }
  if (out.dtype !== 'u32' || numel(out.shape) !== 1) throw new InvalidArgumentError(`sample: out must be [1] u32, got [${out.shape}] ${out.dtype}`);
  const V = logits.shape[logits.shape.length - 1]!;
  if (o.counts && (o.counts.dtype !== 'u32' || numel(o.counts.shape) !== V)) {
    throw new InvalidArgumentError(`sample: counts must be [${V}] u32, got [${o.counts.shape}] ${o.counts.dtype}`);
  }
  if (o.mask && (o.mask.dtype !== 'u32' || numel(o.mask.shape) !== Math.ceil(V / 32))) {
    throw new InvalidArgumentError(`sample: mask must be [${Math.ceil(V / 32)}] u32, got [${o.mask.shape}] ${o.mask.dtype}`);
  }
  if (!(o.temperature >= 0)) throw new InvalidArgumentError(`sample: temperature must be >= 0, got ${o.temperature}`);
  if (!(o.random >= 0 && o.random < 1)) throw new InvalidArgumentError(`sample: random must be in [0, 1), got ${o.random}`);
  const { greedy, topK, topP, minP, penalised, masked, inputs: u } = samplePlan(o, V);
  const nb = Math.ceil(V / CHUNK);
  const s = scratch(ctx, V);
  const bindings = [logits, penalised ? o.counts! : ctx.unused, s.z, s.blocks, s.hist, s.state, out, masked ? o.mask! : ctx.unused];
  const p = (digit = 0, mode = 0) =>
    params()
      .u32(V)
      .u32(nb)
      .f32(u[INV_TEMPERATURE]!, INV_TEMPERATURE)
      .f32(u[REPETITION]!, REPETITION)
      .f32(u[FREQUENCY]!, FREQUENCY)
      .f32(u[PRESENCE]!, PRESENCE)
      .u32(penalised ? 1 : 0)
      .u32(digit)
      .u32(mode)
      .u32(topK, TOP_K)
      .f32(topP, TOP_P)
      .f32(minP, MIN_P)
      .f32(o.random, RANDOM)
      .u32(topK ? 1 : 0)
      .u32(topP < 1 ? 1 : 0)
      .u32(masked ? 1 : 0);
  const run = (entry: string, grid: number, digit = 0, mode = 0) => ctx.dispatch({ shader: 'sample', entry, layout: LAYOUT }, bindings, [grid], p(digit, mode));
  run('prep', nb);
  run('reduce', 1);
  if (greedy) return;
  const search = (mode: number) => {
    for (let d = 0; d < 4; d++) {
      run('hist_pass', nb, d, mode);
      run('select_pass', 1, d, mode);
    }
  };
  if (topK) search(0);
  if (topP < 1) search(1);
  run('mass_pass', nb);
  run('pick', 1);
}

/** counts[id] += 1, on the GPU: `id` is the [1] u32 tensor `sample` wrote, or an id known on the CPU. */
export function countToken(ctx: GpuContext, counts: Tensor, id: Tensor | number): void {
  if (counts.dtype !== 'u32') throw new InvalidArgumentError(`countToken: counts must be u32, got ${counts.dtype}`);
  const V = numel(counts.shape);
  const fromParam = typeof id === 'number';
  if (!fromParam && (id.dtype !== 'u32' || numel(id.shape) !== 1)) throw new InvalidArgumentError(`countToken: id must be [1] u32`);
  ctx.dispatch(
    { shader: 'sample', entry: 'count_token', defines: { COUNT_TOKEN: true }, layout: ['uniform', 'storage', 'read'] },
    [counts, fromParam ? ctx.unused : id],
    [1],
    params()
      .u32(V)
      .u32(fromParam ? 1 : 0)
      .u32(fromParam ? id : 0),
  );
}
