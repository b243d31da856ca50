// weblm/worker: the Web Worker entry. The engine is exposed here through comlink (issue 7).
import '../gpu/shaderSource.vite.js';
export {};
