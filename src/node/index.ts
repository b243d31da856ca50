// weblm/node: the engine in Node over Dawn (the optional `webgpu` package).
export * from '../errors.js';
export { createNodeGpu } from './gpu.js';
export type { GpuContext } from '../gpu/context.js';
