import { afterAll } from 'vitest';
import { createNodeGpu } from '../../src/node/gpu.js';
import type { GpuContext } from '../../src/gpu/context.js';

let ctx: Promise<GpuContext> | undefined;

/**
 * The test file's GPU context (Dawn over SwiftShader on CPU machines). Never skips: a test that needs
 * WebGPU fails when there is no adapter. Destroyed after the file's tests.
 */
export function gpu(): Promise<GpuContext> {
  if (!ctx) {
    ctx = createNodeGpu();
    afterAll(async () => (await ctx!).destroy());
  }
  return ctx;
}
