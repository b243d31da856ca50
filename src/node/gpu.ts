import './shaderSourceFs.js';
import { createGpuContext, type DeviceOptions } from '../gpu/device.js';
import type { GpuContext } from '../gpu/context.js';
import { PollThrottle } from '../gpu/pollThrottle.js';
import { ReadPacer } from '../gpu/readPacer.js';
import { WebGPUUnavailableError } from '../errors.js';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface NodeGpuOptions extends DeviceOptions {
  /**
   * Options for Dawn's `create` (the `webgpu` package README), such as
   * `disable-dawn-features=timestamp_quantization` or `enable-dawn-features=allow_unsafe_apis`.
   */
  dawnFlags?: readonly string[];
}

/**
 * A GpuContext in Node through Dawn (the optional `webgpu` package). On a machine with no Vulkan GPU
 * driver configured, SwiftShader from Debian's chromium package is used when it is installed. The
 * environment variable WEBLM_DAWN_FLAGS adds Dawn options (space-separated) to every context, the CLI's
 * included: `WEBLM_DAWN_FLAGS=enable-dawn-features=allow_unsafe_apis` exposes subgroup matrices (tensor
 * cores) where the adapter has them (ctx.features.subgroupMatrix; src/kernels/matmulSubgroupMatrix.ts).
 * Decode steps' reads are paced (GpuContext.readPacer, src/gpu/readPacer.ts); `WEBLM_READ_PACING=off` maps them at once.
 * Long waits for the device turn the event loop slower (GpuContext.pollThrottle, src/gpu/pollThrottle.ts);
 * `WEBLM_POLL_THROTTLE=off` leaves it turning freely.
 */
/** One per thread: every context's waits turn the same event loop. */
const sharedThrottle = new PollThrottle();

export async function createNodeGpu(options: NodeGpuOptions = {}): Promise<GpuContext> {
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch (cause) {
    throw new WebGPUUnavailableError("WebGPU in Node needs the 'webgpu' package (Dawn): npm install webgpu", { cause });
  }
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES) {
    const { existsSync } = await import('node:fs');
    if (existsSync(SWIFTSHADER_ICD) && !existsSync('/dev/dri') && !existsSync('/dev/nvidiactl')) {
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    }
  }
  Object.assign(globalThis, dawn.globals);
  const fromEnv = process.env.WEBLM_DAWN_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
  const ctx = await createGpuContext(dawn.create([...(options.dawnFlags ?? []), ...fromEnv]), options);
  // dawn.node makes garbage while a map is pending: decode steps' reads wait most of their time on a timer first.
  if (process.env.WEBLM_READ_PACING !== 'off') ctx.readPacer = new ReadPacer();
  if (process.env.WEBLM_POLL_THROTTLE !== 'off') ctx.pollThrottle = sharedThrottle;
  return ctx;
}
