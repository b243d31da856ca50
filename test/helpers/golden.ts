import { expect } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.js';
import type { LoadedModel } from '../../src/models/types.js';
import type { Expected } from './fixtures.js';
import { maxAbsDiff } from './random.js';

/** The first index of the largest value. */
export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/**
 * The greedy continuation of a prompt of T tokens already forwarded, whose logits [T, V] are `logits`: n
 * ids, one forward each with the KV cache, and the logits after the last id (final_logits).
 */
export async function greedyAfter(ctx: GpuContext, model: LoadedModel, logits: Float32Array, T: number, n: number) {
  const V = model.info.vocabSize;
  const ids = [argmax(logits.subarray((T - 1) * V, T * V))];
  while (ids.length < n) ids.push(argmax(await ctx.readF32(model.forward([ids.at(-1)!], T + ids.length - 1))));
  const final = await ctx.readF32(model.forward([ids.at(-1)!], T + n - 1));
  return { ids, final };
}

/**
 * A whole prompt (exp.inputIds, forwarded from position 0: a vision model with its images set) against its
 * expected logits at every position within `tol` absolute, and the greedy continuation after it against
 * exp.greedyIds. Returns the prompt's logits.
 */
export async function expectPromptAndGreedy(
  ctx: GpuContext,
  model: LoadedModel,
  exp: { readonly inputIds: readonly number[]; readonly logits: Float32Array; readonly greedyIds: readonly number[] },
  tol = 1e-3,
): Promise<Float32Array> {
  const T = exp.inputIds.length;
  const V = model.info.vocabSize;
  const logits = await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true }));
  expect(maxAbsDiff(logits, exp.logits)).toBeLessThan(tol);
  const ids = [argmax(logits.subarray((T - 1) * V, T * V))];
  while (ids.length < exp.greedyIds.length) ids.push(argmax(await ctx.readF32(model.forward([ids.at(-1)!], T + ids.length - 1))));
  expect(ids).toEqual(exp.greedyIds);
  return logits;
}

/**
 * The golden check of a fixture (expected.safetensors, from transformers in f32): the logits at every
 * prompt position, the greedy ids and final_logits, within `tol` absolute. `onLogitsMiss` runs before the
 * logits assertion fails (to print where the model departs).
 */
export async function expectGolden(
  ctx: GpuContext,
  model: LoadedModel,
  exp: Expected,
  opts: { tol?: number; onLogitsMiss?: () => Promise<void> } = {},
): Promise<void> {
  const tol = opts.tol ?? 1e-3;
  const T = exp.inputIds.length;
  const logits = await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true }));
  expect(logits.length).toBe(T * model.info.vocabSize);
  if (maxAbsDiff(logits, exp.logits) >= tol) await opts.onLogitsMiss?.();
  expect(maxAbsDiff(logits, exp.logits)).toBeLessThan(tol);
  const { ids, final } = await greedyAfter(ctx, model, logits, T, exp.greedyIds.length);
  expect(ids).toEqual(exp.greedyIds);
  expect(maxAbsDiff(final, exp.finalLogits)).toBeLessThan(tol);
}
