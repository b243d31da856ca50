import { onTestFinished } from 'vitest';
import { LocalEngine } from '../../src/engine/localEngine.js';
import type { Engine } from '../../src/engine/types.js';
import type { GpuContext } from '../../src/gpu/context.js';
import type { KernelOverrides } from '../../src/gpu/kernelOverrides.js';
import type { LoadedModel } from '../../src/models/types.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import { decodeImageNode, readImageFile } from '../../src/node/imageDecode.js';
import { openNodeSource } from '../../src/node/nodeEngine.js';
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

/**
 * A Node engine (createNodeEngine's options) and its GPU context once it has loaded a model: for the engine
 * tests that set kernel overrides on the engine's own context (`context().kernelOverrides`).
 */
export function nodeEngineWithContext(): { engine: Engine; context: () => GpuContext } {
  let ctx: GpuContext | undefined;
  const engine = new LocalEngine({
    gpu: async () => (ctx = await createNodeGpu()),
    openFiles: openNodeSource,
    decodeImage: decodeImageNode,
    readImageFile,
  });
  return {
    engine,
    context: () => {
      if (!ctx) throw new Error('nodeEngineWithContext: no GPU context before the first load');
      return ctx;
    },
  };
}
