import { describe, expect, it } from 'vitest';
import { countToken, sample, type SamplingOptions } from '../../src/kernels/sample.js';
import { sampleRef } from '../../src/kernels/ref/sample.js';
import { Sampler } from '../../src/engine/sampler.js';
import { seededRandom } from '../../src/engine/random.js';
import { gpu } from '../helpers/gpu.js';
import { randomF32, rng } from '../helpers/random.js';

async function gpuSample(logits: Float32Array, o: SamplingOptions & { random: number }, counts?: Uint32Array, mask?: Uint32Array): Promise<number> {
  const ctx = await gpu();
  const V = logits.length;
  const out = ctx.createTensor([1], 'u32');
  const c = counts && ctx.upload(counts, [V], 'u32');
  const m = mask && ctx.upload(mask, [mask.length], 'u32');
  sample(ctx, ctx.upload(logits, [1, V], 'f32'), out, { ...o, counts: c, mask: m });
  const id = new Uint32Array(await ctx.read(out, 4))[0]!;
  ctx.destroyBuffer(out.buffer);
  if (c) ctx.destroyBuffer(c.buffer);
  if (m) ctx.destroyBuffer(m.buffer);
  return id;
}

/** A bitmask over V tokens (bit i % 32 of word i / 32) allowing those `allow` says yes to. */
function bitmask(V: number, allow: (i: number) => boolean): Uint32Array {
  const m = new Uint32Array(Math.ceil(V / 32));
  for (let i = 0; i < V; i++) if (allow(i)) m[i >>> 5]! |= 1 << (i & 31);
  return m;
}

describe('sample', () => {
  it('greedy = first argmax on V=50001 (ties and -inf included)', async () => {
    for (const seed of [1, 2, 3]) {
      const logits = randomF32(50001, seed, 10);
      logits[7] = -Infinity;
      const m = 12 + seed;
      logits[40000] = m;
      logits[45000] = m; // tie: the first wins
      expect(await gpuSample(logits, { temperature: 0, random: 0.5 })).toBe(40000);
      expect(sampleRef(logits, { temperature: 0, random: 0.5 })).toBe(40000);
    }
    const plain = randomF32(50001, 9, 10);
    expect(await gpuSample(plain, { temperature: 0, random: 0 })).toBe(sampleRef(plain, { temperature: 0, random: 0 }));
  });

  // Each option alone and combined; ids must equal the reference for every draw. V = 3001 (3 blocks,
  // odd); logits spread over ±4 so the kept sets hold tens to hundreds of tokens.
  const cases: [string, SamplingOptions, boolean][] = [
    ['temperature', { temperature: 0.8 }, false],
    ['top-k', { temperature: 1, topK: 37 }, false],
    ['top-k 1', { temperature: 1, topK: 1 }, false],
    ['top-p', { temperature: 1.3, topP: 0.9 }, false],
    ['min-p', { temperature: 1, minP: 0.05 }, false],
    ['penalties', { temperature: 0.7, repetitionPenalty: 1.3, frequencyPenalty: 0.4, presencePenalty: 0.6 }, true],
    ['greedy + penalties', { temperature: 0, repetitionPenalty: 1.5, presencePenalty: 1 }, true],
    ['all', { temperature: 0.9, topK: 200, topP: 0.8, minP: 0.02, repetitionPenalty: 1.2, frequencyPenalty: 0.3, presencePenalty: 0.2 }, true],
  ];
  it.each(cases)('%s: ids equal the reference over many draws', async (_name, opts, withCounts) => {
    const V = 3001;
    const r = rng(42);
    const ids = new Set<number>();
    for (let draw = 0; draw < 12; draw++) {
      const logits = randomF32(V, 100 + draw, 4);
      const counts = withCounts ? Uint32Array.from({ length: V }, () => (r() < 0.1 ? 1 + Math.floor(r() * 3) : 0)) : undefined;
      const random = r();
      const want = sampleRef(logits, { ...opts, random, counts });
      expect(await gpuSample(logits, { ...opts, random }, counts)).toBe(want);
      ids.add(want);
      if (opts.topK) {
        const zs = [...logits].sort((a, b) => b - a);
        if (!withCounts) expect(logits[want]!).toBeGreaterThanOrEqual(zs[opts.topK - 1]!);
      }
    }
    // The draws differ (not a degenerate argmax), except where the options force one token.
    if (opts.temperature > 0 && opts.topK !== 1) expect(ids.size).toBeGreaterThan(3);
  });

  it('top-k with ties at the threshold keeps them all', async () => {
    const V = 1501;
    const logits = new Float32Array(V).fill(-5);
    for (const i of [3, 500, 1200, 1499]) logits[i] = 2; // 4 tied tokens, top-k 2 keeps all 4
    for (const random of [0.1, 0.3, 0.6, 0.9]) {
      const o = { temperature: 1, topK: 2, random };
      expect(await gpuSample(logits, o)).toBe(sampleRef(logits, o));
    }
  });

  it('one draw with every option on V=50001', async () => {
    const V = 50001;
    const logits = randomF32(V, 77, 6);
    const o = { temperature: 0.8, topK: 500, topP: 0.9, minP: 0.01, random: 0.6180339 };
    expect(await gpuSample(logits, o)).toBe(sampleRef(logits, o));
  });

  // The grammar's token mask: V = 2085 (3 blocks, a partial last mask word); sparse and dense masks, the
  // allowed set far from the argmax, with every sampling kind; ids equal the reference and are allowed.
  const maskCases: [string, SamplingOptions][] = [
    ['greedy', { temperature: 0 }],
    ['temperature', { temperature: 1.1 }],
    ['top-k', { temperature: 1, topK: 5 }],
    ['top-k larger than the allowed set', { temperature: 1, topK: 400 }],
    ['top-p + min-p', { temperature: 0.9, topP: 0.7, minP: 0.05 }],
    ['penalties', { temperature: 0.8, repetitionPenalty: 1.4, presencePenalty: 0.5 }],
  ];
  it.each(maskCases)('mask, %s: ids equal the reference and are allowed', async (_name, opts) => {
    const V = 2085;
    const r = rng(7);
    for (let draw = 0; draw < 8; draw++) {
      const logits = randomF32(V, 300 + draw, 4);
      const dense = draw % 2 === 0;
      const allowed = new Set<number>();
      for (let i = 0; i < V; i++) if (dense ? r() < 0.5 : r() < 0.01) allowed.add(i);
      allowed.add(V - 1); // the last id, in the partial word
      const mask = bitmask(V, (i) => allowed.has(i));
      const counts = opts.repetitionPenalty ? Uint32Array.from({ length: V }, () => (r() < 0.2 ? 1 : 0)) : undefined;
      const random = r();
      const want = sampleRef(logits, { ...opts, random, counts, mask });
      expect(allowed.has(want)).toBe(true);
      expect(await gpuSample(logits, { ...opts, random }, counts, mask)).toBe(want);
    }
  });

  it('mask of one token: that token, whatever the logits', async () => {
    const V = 1031;
    const logits = randomF32(V, 5, 8);
    for (const only of [0, 517, 1030]) {
      for (const o of [{ temperature: 0 }, { temperature: 1, topK: 3, topP: 0.5 }]) {
        expect(
          await gpuSample(
            logits,
            { ...o, random: 0.99 },
            undefined,
            bitmask(V, (i) => i === only),
          ),
        ).toBe(only);
      }
    }
  });

  // Record once, replay: a new mask every step is a buffer write, so after the first draw every step is
  // replayed, and each id is the reference's for that step's mask and draw.
  it('Sampler: a mask written each step keeps the captured draw replayed', async () => {
    const ctx = await gpu();
    const V = 1500;
    const sampler = new Sampler(ctx, V);
    const o = { temperature: 1, topK: 20, seed: 11 };
    sampler.begin(o, [], true);
    const draws = seededRandom(o.seed);
    const r = rng(3);
    const logits = ctx.upload(randomF32(V, 21, 4), [1, V], 'f32');
    const host = new Float32Array(await ctx.read(logits));
    for (let step = 0; step < 6; step++) {
      const mask = bitmask(V, () => r() < 0.3);
      sampler.setMask(mask);
      const id = await sampler.record(logits);
      expect(id).toBe(sampleRef(host, { ...o, random: draws(), mask }));
    }
    expect([sampler.step.recorded, sampler.step.replayed]).toEqual([1, 5]);
    sampler.dispose();
    ctx.destroyBuffer(logits.buffer);
  });

  it('countToken increments counts[id] from a tensor and from a CPU id', async () => {
    const ctx = await gpu();
    const counts = ctx.upload(new Uint32Array(37), [37], 'u32');
    countToken(ctx, counts, ctx.upload(new Uint32Array([5]), [1], 'u32'));
    countToken(ctx, counts, 5);
    countToken(ctx, counts, 36);
    const got = new Uint32Array(await ctx.read(counts));
    expect([got[5], got[36], got.reduce((a, b) => a + b, 0)]).toEqual([2, 1, 3]);
  });
});
