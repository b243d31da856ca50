// weblm, page side.
export * from './errors.js';
export type { DType, Tensor } from './gpu/tensor.js';
export { createBrowserGpu } from './browser/gpu.js';
