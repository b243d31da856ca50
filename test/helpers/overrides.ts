import { onTestFinished } from 'vitest';
import type { KernelOverrides } from '../../src/gpu/kernelOverrides.js';
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
