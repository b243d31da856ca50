/**
 * The loop of recordProfile (Node: recordProfile.ts; headless Chromium: recordProfile.html through
 * recordProfileBrowser.ts): a qwen2 of real layer count and tiny widths, decoded greedily one step at a time;
 * the CPU side of each step (forward and sampler calls) is timed with replay on and off in alternate blocks.
 */
import { Sampler } from '../src/engine/sampler.js';
import type { GpuContext } from '../src/gpu/context.js';
import type { DType } from '../src/gpu/tensor.js';
import { buildModel } from '../src/models/load.js';
import { normalizeConfig } from '../src/models/registry.js';
import { randomWeightSource } from './randomWeights.js';

export interface ProfileOptions {
  readonly layers: number;
  /** Steps per mode, the first 10 of which warm up and are not counted. */
  readonly steps: number;
  readonly dtype: DType;
  readonly replay: 'on' | 'off' | 'both';
  /** The process's CPU time in ms (Node: process.cpuUsage); absent in a page. */
  readonly cpuMs?: () => number;
}

export interface ProfileFigure {
  replay: 'on' | 'off';
  layers: number;
  steps: number;
  dispatchesPerStep: number;
  /** Wall time of the forward call. */
  recordMsPerStep: number;
  /** Wall time of the sampler's call (its dispatches and the submit). */
  sampleMsPerStep: number;
  /** Process CPU time over both calls (Node only). */
  cpuMsPerStep?: number;
  /** Wall time of both calls over the dispatches of a step. */
  usPerDispatch: number;
  /** Median and smallest wall time of both calls over the steps: less sensitive than the mean to other load on the machine. */
  medianMsPerStep: number;
  minMsPerStep: number;
}

export async function profileDecode(ctx: GpuContext, o: ProfileOptions): Promise<ProfileFigure[]> {
  const raw = {
    model_type: 'qwen2',
    architectures: ['Qwen2ForCausalLM'],
    hidden_size: 256,
    intermediate_size: 512,
    num_hidden_layers: o.layers,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 512,
    max_position_embeddings: 4096,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: true,
    hidden_act: 'silu',
  };
  const config = normalizeConfig(raw, {}, 'record-profile');
  const modes = o.replay === 'both' ? [true, false] : [o.replay === 'on'];
  const model = await buildModel(ctx, config, randomWeightSource(raw, o.dtype), { dtype: 'auto', maxContext: o.steps * modes.length + 64, maxChunk: 16 });
  const sampler = new Sampler(ctx, config.vocabSize);
  sampler.begin({ temperature: 0 }, []);
  let next = await sampler.next(model.forward([1, 2, 3, 4], 0));
  let pos = 4;
  const figures = modes.map((replay) => ({ replay: replay ? 'on' : 'off', steps: 0, recordMs: 0, sampleMs: 0, cpuMs: 0, dispatches: 0 }) as const);
  const sums = figures.map((f) => ({ ...f, each: [] as number[] }));
  try {
    for (let i = 0; i < o.steps * modes.length; i++) {
      const f = sums[Math.floor(i / 5) % modes.length]!;
      ctx.replay = f.replay === 'on';
      const d0 = ctx.dispatchCount;
      const c0 = o.cpuMs?.() ?? 0;
      const t0 = performance.now();
      const logits = model.forward([next], pos++);
      const t1 = performance.now();
      const id = sampler.next(logits);
      const t2 = performance.now();
      const c1 = o.cpuMs?.() ?? 0;
      next = await id;
      if (i < 10 * modes.length) continue; // two blocks of each mode warm up (pipelines, JIT, the first capture)
      f.steps++;
      f.recordMs += t1 - t0;
      f.sampleMs += t2 - t1;
      f.cpuMs += c1 - c0;
      f.each.push(t2 - t0);
      f.dispatches += ctx.dispatchCount - d0;
    }
  } finally {
    ctx.replay = true;
    sampler.dispose();
    model.dispose();
  }
  return sums.map((f) => ({
    replay: f.replay,
    layers: o.layers,
    steps: f.steps,
    dispatchesPerStep: f.dispatches / f.steps,
    recordMsPerStep: f.recordMs / f.steps,
    sampleMsPerStep: f.sampleMs / f.steps,
    ...(o.cpuMs ? { cpuMsPerStep: f.cpuMs / f.steps } : {}),
    usPerDispatch: ((f.recordMs + f.sampleMs) * 1000) / f.dispatches,
    medianMsPerStep: f.each.sort((x, y) => x - y)[f.each.length >> 1]!,
    minMsPerStep: f.each[0]!,
  }));
}
