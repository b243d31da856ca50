// weblm/worker: the Web Worker entry. Serves an engine over WebGPU in this worker to the page's
// `createEngine()` through comlink.
import { createBrowserGpu } from '../browser/gpu.js';
import { LocalEngine } from '../engine/localEngine.js';
import { exposeEngine } from './exposeEngine.js';
import { openBrowserSource } from './openSource.js';

exposeEngine(new LocalEngine({ gpu: () => createBrowserGpu(), openFiles: openBrowserSource }), self as unknown as Worker);
