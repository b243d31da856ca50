/**
 * Subgroup matrices (WGSL chromium_experimental_subgroup_matrix: cooperative matrices, tensor cores). Dawn
 * exposes the feature only with its allow_unsafe_apis toggle (Node: `dawnFlags:
 * ['enable-dawn-features=allow_unsafe_apis']`; Chromium: `--enable-dawn-features=allow_unsafe_apis`), and
 * lists the shapes the adapter runs in `GPUAdapterInfo.subgroupMatrixConfigs`.
 */

/** The features every subgroup-matrix kernel needs on the device (the int8 GEMM's). */
export const SUBGROUP_MATRIX_FEATURES = ['subgroups', 'chromium-experimental-subgroup-matrix'] as unknown as readonly GPUFeatureName[];

/** ... and those of the f16 GEMM. */
export const SUBGROUP_MATRIX_F16_FEATURES = [...SUBGROUP_MATRIX_FEATURES, 'shader-f16'] as unknown as readonly GPUFeatureName[];

/** One entry of `GPUAdapterInfo.subgroupMatrixConfigs`: left M x K times right K x N into a result M x N. */
export interface AdapterMatrixConfig {
  readonly componentType: string;
  readonly resultComponentType: string;
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

/** The shape a kernel is built for (f16 -> f32 or i8 -> i32), with the subgroup size its workgroups are a multiple of. */
export interface SubgroupMatrixShape {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly subgroupSize: number;
}

/**
 * The f16 x f16 -> f32 config to build on: the largest M x N x K (fewest matrix ops per tile) whose sides are
 * at most 32 and whose K divides a block of 32; undefined where none fits or the subgroup size is unknown.
 */
export function chooseSubgroupMatrix(configs: readonly AdapterMatrixConfig[], subgroupMaxSize: number | undefined): SubgroupMatrixShape | undefined {
  if (!subgroupMaxSize) return undefined;
  const fits = configs.filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M <= 32 && c.N <= 32 && c.K <= 32 && 32 % c.K === 0);
  const best = fits.sort((a, b) => b.M * b.N * b.K - a.M * a.N * a.K)[0];
  return best && { M: best.M, N: best.N, K: best.K, subgroupSize: subgroupMaxSize };
}

/**
 * The i8 x i8 -> i32 config to build the int8 GEMM on (shaders/matmulSubgroupMatrixInt8.wgsl): K of one block
 * of 32 (its scales apply per block), sides of at most 32, the largest M x N; the subgroup size must be fixed
 * on the adapter (min = max: each lane scales a set share of a result matrix, M x N / size elements of one
 * row). Undefined where none fits.
 */
export function chooseSubgroupMatrixInt8(
  configs: readonly AdapterMatrixConfig[],
  subgroupMinSize: number | undefined,
  subgroupMaxSize: number | undefined,
): SubgroupMatrixShape | undefined {
  if (!subgroupMaxSize || (subgroupMinSize !== undefined && subgroupMinSize !== subgroupMaxSize)) return undefined;
  const fits = configs.filter(
    (c) =>
      c.componentType === 'i8' &&
      c.resultComponentType === 'i32' &&
      c.K === 32 &&
      c.M <= 32 &&
      c.N <= 32 &&
      (c.M * c.N) % subgroupMaxSize === 0 &&
      c.N % ((c.M * c.N) / subgroupMaxSize) === 0,
  );
  const best = fits.sort((a, b) => b.M * b.N - a.M * a.N)[0];
  return best && { M: best.M, N: best.N, K: best.K, subgroupSize: subgroupMaxSize };
}

/** Whether a workgroup of SGY x SGX subgroups of `shape`'s size with `bytes` of workgroup memory fits the device's limits. */
export function subgroupTileFits(
  limits: GPUSupportedLimits,
  shape: SubgroupMatrixShape,
  tile: { readonly SGY: number; readonly SGX: number },
  bytes: number,
): boolean {
  const threads = shape.subgroupSize * tile.SGY * tile.SGX;
  return threads <= limits.maxComputeInvocationsPerWorkgroup && threads <= limits.maxComputeWorkgroupSizeX && bytes <= limits.maxComputeWorkgroupStorageSize;
}
