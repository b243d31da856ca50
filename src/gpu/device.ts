import { WebGPUUnavailableError } from '../errors.js';
import { GpuContext } from './context.js';
import {
  chooseSubgroupMatrix,
  chooseSubgroupMatrixInt8,
  SUBGROUP_MATRIX_F16_FEATURES,
  SUBGROUP_MATRIX_FEATURES,
  type AdapterMatrixConfig,
} from './subgroupMatrix.js';

export interface DeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Skip optional features even when the adapter has them (to test the f32 paths). */
  disableFeatures?: readonly GPUFeatureName[];
  /** Do not use WGSL's packed 4x8 integer dot product even where the platform has it. */
  disablePackedDot?: boolean;
}

/** Optional features a kernel or the profiler uses (timestamps: bench/ and GpuContext's profiler). */
const OPTIONAL_FEATURES: readonly GPUFeatureName[] = ['timestamp-query'];

/**
 * Acquires an adapter and device from a `GPU` (navigator.gpu in a browser, Dawn's in Node) with the
 * largest buffer limits the adapter offers and the optional features the kernels can use.
 */
export async function createGpuContext(gpu: GPU | undefined, options: DeviceOptions = {}): Promise<GpuContext> {
  if (!gpu) {
    throw new WebGPUUnavailableError(
      'WebGPU is not available here: navigator.gpu is missing (use a browser with WebGPU, over https or localhost) ' +
        "or, in Node, install the optional 'webgpu' package",
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGPUUnavailableError(
      'No WebGPU adapter was found (no GPU, or WebGPU disabled). In Node on a machine without a GPU, set ' +
        'VK_ICD_FILENAMES to a Vulkan driver such as SwiftShader (see ARCHITECTURE.md)',
    );
  }
  const skip = new Set(options.disableFeatures ?? []);
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !skip.has(f));
  const info = adapter.info;
  const usable = (features: readonly GPUFeatureName[]) => features.every((f) => adapter.features.has(f) && !skip.has(f));
  const configs = (info as { subgroupMatrixConfigs?: readonly AdapterMatrixConfig[] }).subgroupMatrixConfigs ?? [];
  const matrix = usable(SUBGROUP_MATRIX_F16_FEATURES) ? chooseSubgroupMatrix(configs, info.subgroupMaxSize) : undefined;
  const matrixInt8 = usable(SUBGROUP_MATRIX_FEATURES) ? chooseSubgroupMatrixInt8(configs, info.subgroupMinSize, info.subgroupMaxSize) : undefined;
  if (matrix) requiredFeatures.push(...SUBGROUP_MATRIX_F16_FEATURES);
  else if (matrixInt8) requiredFeatures.push(...SUBGROUP_MATRIX_FEATURES);
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  });
  const has = (f: GPUFeatureName) => device.features.has(f);
  return new GpuContext(
    gpu,
    device,
    { vendor: info.vendor, architecture: info.architecture, description: info.description },
    {
      timestampQuery: has('timestamp-query'),
      packedDot: !options.disablePackedDot && !!gpu.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product'),
      subgroupMatrix: matrix, // their features are required above: the device has them
      subgroupMatrixInt8: matrixInt8,
    },
  );
}
