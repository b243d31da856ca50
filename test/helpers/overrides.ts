import { onTestFinished } from 'vitest';
import type { KernelOverrides } from '../../src/gpu/kernelOverrides.js';
import type { LoadedModel } from '../../src/models/types.js';
import { gpu } from './gpu.js';

/**
 * Runs the test file's GPU context with these kernel overrides (src/gpu/kernelOverrides.ts) until the test
 * ends; a later call in the same test replaces them.
 */
export async function overrideKernels(overrides: KernelOverrides): Promise<void> {
  const ctx = await gpu();
  ctx.kernelOverrides = overrides;
  onTestFinished(() => {
    ctx.kernelOverrides = undefined;
  });
}

/** A whole prompt's logits [T, V] under the overrides `a`, then under `b` (the same model, forwarded from 0 again). */
export async function promptLogitsUnder(
  model: LoadedModel,
  ids: readonly number[],
  a: KernelOverrides,
  b: KernelOverrides,
): Promise<[Float32Array, Float32Array]> {
  const ctx = await gpu();
  await overrideKernels(a);
  const first = await ctx.readF32(model.forward(ids, 0, { allLogits: true }));
  await overrideKernels(b);
  return [first, await ctx.readF32(model.forward(ids, 0, { allLogits: true }))];
}
