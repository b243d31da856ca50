// The weblm worker (as src/worker/index.ts builds it) plus one test hook: a 'lose-device' message destroys
// the GPUDevice of the engine's current context, as a driver reset would take it away mid-stream.
import { createBrowserGpu } from '../../../src/browser/gpu.js';
import type { GpuContext } from '../../../src/gpu/context.js';
import { LocalEngine } from '../../../src/engine/localEngine.js';
import { exposeEngine } from '../../../src/worker/exposeEngine.js';
import { openBrowserSource } from '../../../src/worker/openSource.js';

let current: GpuContext | undefined;
let contexts = 0;
const gpu = async () => {
  current = await createBrowserGpu();
  contexts++;
  return current;
};
self.addEventListener('message', (ev: MessageEvent) => {
  if (ev.data === 'lose-device') {
    current?.device.destroy();
    (self as unknown as Worker).postMessage({ lost: true, contexts });
  }
  if (ev.data === 'contexts') (self as unknown as Worker).postMessage({ contexts });
});
exposeEngine(new LocalEngine({ gpu, openFiles: openBrowserSource }), self as unknown as Worker);
