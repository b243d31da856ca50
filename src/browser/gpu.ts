import '../gpu/shaderSource.vite.js';
import { createGpuContext, type DeviceOptions } from '../gpu/device.js';
import type { GpuContext } from '../gpu/context.js';

/** A GpuContext from `navigator.gpu` (a page or a worker, in a secure context). */
export function createBrowserGpu(options: DeviceOptions = {}): Promise<GpuContext> {
  return createGpuContext((globalThis.navigator as Navigator | undefined)?.gpu, options);
}
