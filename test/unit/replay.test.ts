import { describe, expect, it } from 'vitest';
import { Sampler } from '../../src/engine/sampler.js';
import type { SamplingOptions } from '../../src/engine/types.js';
import { params } from '../../src/gpu/params.js';
import { buildModel, loadWeightsAndConfig } from '../../src/models/load.js';
import type { DecoderModel } from '../../src/models/decoder.js';
import { fixtureFiles } from '../helpers/fixtures.js';
import { argmax } from '../helpers/golden.js';
import { gpu } from '../helpers/gpu.js';

/**
 * A decode step captured once and replayed (src/gpu/capture.ts) against the same step recorded afresh through
 * the kernels (`ctx.replay = false`): identical logits and ids, token by token.
 */

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

async function load(name: string, maxContext = 300): Promise<DecoderModel> {
  const ctx = await gpu();
  const { config, weights } = await loadWeightsAndConfig(fixtureFiles(name));
  return (await buildModel(ctx, config, weights, { dtype: 'f32', maxContext, maxChunk: 64 })) as DecoderModel;
}

/**
 * Greedy decode from a 3-token prompt through `path`: a number is a decode step at that position (forwarded
 * replayed, then forwarded again recorded afresh: the logits must be equal bit for bit; a smaller position
 * rewinds the cache), `[from, to]` a prefill of positions from .. to - 1 (to get far quickly). Returns how
 * many decode steps were replayed and recorded.
 */
async function stepwise(name: string, path: (number | [number, number])[]): Promise<{ replayed: number; recorded: number }> {
  const model = await load(name);
  const ctx = model.ctx;
  try {
    const V = model.info.vocabSize;
    let id = argmax((await ctx.readF32(model.forward([1, 5, 9], 0))).subarray(0, V));
    const r0 = model.decodeStep.replayed;
    const c0 = model.decodeStep.recorded;
    let steps = 0;
    for (const pos of path) {
      if (typeof pos !== 'number') {
        const ids = range(pos[0], pos[1]).map((i) => (i * 7) % V);
        id = argmax(await ctx.readF32(model.forward(ids, pos[0])));
        continue;
      }
      ctx.replay = true;
      const replayed = (await ctx.readF32(model.forward([id], pos))).slice();
      ctx.replay = false;
      const fresh = await ctx.readF32(model.forward([id], pos));
      ctx.replay = true;
      if (!same(replayed, fresh)) throw new Error(`${name}: position ${pos}: replayed logits differ from recorded ones`);
      expect(model.cachedLength).toBe(pos + 1);
      id = (argmax(fresh) + pos) % V; // vary the ids a little
      steps++;
    }
    // The fresh steps count as recorded too: one per step.
    return { replayed: model.decodeStep.replayed - r0, recorded: model.decodeStep.recorded - c0 - steps };
  } finally {
    model.ctx.replay = true;
    model.dispose();
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('decode step replay', () => {
  // Decode at 3..7, prefill to 252, decode 252..259: from position 256 the attention's grid is sized for the
  // next bucket of 256 positions, a new recording; then rewind to 20 (the first bucket: the first recording again).
  const path = [...range(3, 8), [8, 252] as [number, number], ...range(252, 260), ...range(20, 23)];
  const steps = path.filter((p) => typeof p === 'number').length;

  for (const name of ['qwen3', 'qwen3_moe', 'deepseek_v3']) {
    it(`${name}: replayed logits equal recorded ones across a context bucket change and a rewind`, async () => {
      expect(await stepwise(name, path)).toEqual({ replayed: steps - 2, recorded: 2 });
    });
  }

  it('mistral_swa (sliding window 8, a ring of 11): replayed logits equal recorded ones as the ring wraps', async () => {
    // Only 3 positions can be rewound in the ring; past the window the keys split the same way whatever the position.
    const p = [...range(3, 6), [6, 30] as [number, number], ...range(30, 36), 33, 34];
    expect(await stepwise('mistral_swa', p)).toEqual({ replayed: 10, recorded: 1 });
  });
});

/** One pipelined generation as generateTokens runs it (step t + 1 fed by step t's id on the GPU); settings change mid-stream. */
async function generate(model: DecoderModel, sampler: Sampler, phases: { opts: SamplingOptions; start: number; tokens: number }[]): Promise<number[]> {
  const out: number[] = [];
  for (const ph of phases) {
    sampler.begin(ph.opts, [1, 5, 9]);
    let pos = ph.start;
    let pending = sampler.record(model.forward(pos === 0 ? [1, 5, 9] : [out.at(-1) ?? 1], pos));
    pos += pos === 0 ? 3 : 1;
    for (let i = 1; i < ph.tokens; i++) {
      const next = sampler.record(model.forward([0], pos++, { idFrom: sampler.lastId }));
      out.push(await pending);
      pending = next;
    }
    out.push(await pending);
  }
  return out;
}

describe('sampling replay', () => {
  it('a pipelined generation gives the same ids replayed and recorded, with settings changed mid-stream', async () => {
    const model = await load('qwen3');
    const ctx = model.ctx;
    const sampler = new Sampler(ctx, model.info.vocabSize);
    const phases = [
      { opts: { temperature: 0 }, start: 0, tokens: 5 },
      { opts: { temperature: 0.9, topK: 20, seed: 1 }, start: 7, tokens: 5 },
      { opts: { temperature: 1.3, topK: 7, topP: 0.9, minP: 0.02, seed: 2 }, start: 12, tokens: 5 },
      { opts: { temperature: 1.1, topK: 9, topP: 0.7, minP: 0.05, seed: 5 }, start: 17, tokens: 5 },
      { opts: { temperature: 0.7, topP: 0.8, repetitionPenalty: 1.3, frequencyPenalty: 0.2, presencePenalty: 0.1, seed: 3 }, start: 10, tokens: 5 },
      { opts: { temperature: 0.7, topP: 0.5, repetitionPenalty: 1.1, seed: 4 }, start: 15, tokens: 5 },
    ];
    try {
      ctx.replay = false;
      const recorded = await generate(model, sampler, phases);
      ctx.replay = true;
      const s0 = sampler.step.replayed;
      const d0 = model.decodeStep.replayed;
      const replayed = await generate(model, sampler, phases);
      expect(replayed).toEqual(recorded);
      // Most steps replayed: settings of one kind (phases 3 and 4, 5 and 6) change values in the sampler's
      // uniforms, not its dispatches, so a phase may start by replaying the step captured in the one before.
      expect(sampler.step.replayed - s0).toBeGreaterThanOrEqual(20);
      expect(model.decodeStep.replayed - d0).toBeGreaterThanOrEqual(20);
      expect(new Set(recorded).size).toBeGreaterThan(5);
    } finally {
      ctx.replay = true;
      sampler.dispose();
      model.dispose();
    }
  });
});

describe('step capture', () => {
  it('replays uniforms marked as inputs with the new values, and refuses where a guard fails', async () => {
    const ctx = await gpu();
    const key = { shader: 'kvCache', defines: { HAS_V: false }, layout: ['uniform', 'read', 'storage'] as const };
    const kNew = ctx.upload(new Float32Array(64).fill(3), [1, 1, 64], 'f32');
    const cache = ctx.createTensor([8, 1, 64], 'f32');
    const record = (startPos: number) => {
      ctx.guard('position', startPos, (p) => p < 6);
      ctx.dispatch(
        { ...key, layout: [...key.layout] },
        [kNew, cache],
        [1, 1],
        params()
          .u32(1)
          .u32(64)
          .u32(0)
          .u32(8)
          .u32(startPos + 1, 'position'),
      );
    };
    ctx.flush();
    ctx.beginCapture({ position: 0 });
    record(0); // writes slot 1
    const rec = ctx.endCapture()!;
    expect(rec.dispatches).toBe(1);
    expect(ctx.replayStep(rec, { position: 2 })).toBe(false); // slot 0 is not free: the capture started at slot 0
    ctx.flush();
    expect(ctx.replayStep(rec, { position: 6 })).toBe(false); // the guard: 6 < 6 fails
    expect(ctx.replayStep(rec, { position: 3 })).toBe(true); // writes slot 4
    const got = await ctx.readF32(cache);
    expect([1, 4].map((s) => got[s * 64])).toEqual([3, 3]);
    expect([0, 2, 3, 5].map((s) => got[s * 64])).toEqual([0, 0, 0, 0]);
    // A flush or a queue write inside the capture leaves no recording.
    ctx.beginCapture({ position: 0 });
    ctx.write(cache, new Float32Array(4));
    expect(ctx.endCapture()).toBeUndefined();
    ctx.destroyBuffer(kNew.buffer);
    ctx.destroyBuffer(cache.buffer);
  });
});
