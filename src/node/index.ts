// weblm/node: the engine in Node over Dawn (the optional `webgpu` package).
export * from '../errors.js';
export { createNodeGpu } from './gpu.js';
export type { GpuContext } from '../gpu/context.js';
export { createNodeEngine, openNodeSource } from './nodeEngine.js';
export { folderFiles } from './folderFiles.js';
export type * from '../engine/types.js';
export type * from '../engine/openaiTypes.js';
