import { createBrowserGpu } from '../../src/browser/gpu.js';

const status = document.getElementById('status')!;
createBrowserGpu()
  .then((gpu) => {
    status.textContent = `WebGPU adapter: ${gpu.adapterInfo.vendor} ${gpu.adapterInfo.architecture} ${gpu.adapterInfo.description}`;
  })
  .catch((err: Error) => {
    status.textContent = `${err.name}: ${err.message}`;
  });
