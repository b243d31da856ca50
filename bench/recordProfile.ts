/**
 * CPU cost of recording a decode step, apart from the GPU: a model with the layer structure of a real one
 * (dispatches per token) but tiny widths, so that the GPU work is negligible even on SwiftShader. Reports
 * µs of CPU per recorded dispatch; run with `node --cpu-prof` to see where it goes. The same loop in headless
 * Chromium: recordProfileBrowser.ts.
 *
 *   npm run build && node dist/bench/recordProfile.js [--layers 28] [--steps 200] [--dtype q4_0] [--replay on|off|both]
 *
 * --replay off records every step through the kernels; on replays the step captured once (src/gpu/capture.ts);
 * both (the default) alternates the two every 5 steps, so that both see the same load on a shared machine.
 * One JSON line per mode (recordProfileCore.ts says what each figure is).
 */
import { parseArgs } from 'node:util';
import type { DType } from '../src/gpu/tensor.js';
import { createNodeGpu } from '../src/node/gpu.js';
import { profileDecode } from './recordProfileCore.js';

const { values: a } = parseArgs({
  options: {
    layers: { type: 'string', default: '28' },
    steps: { type: 'string', default: '200' },
    dtype: { type: 'string', default: 'q4_0' },
    planes: { type: 'string', default: 'on' },
    replay: { type: 'string', default: 'both' },
  },
});
if (a.replay !== 'on' && a.replay !== 'off' && a.replay !== 'both') throw new Error(`--replay is on, off or both, not ${a.replay}`);
const ctx = await createNodeGpu();
if (a.planes === 'off') ctx.kernelOverrides = { gemv: { planes: false } };
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const figures = await profileDecode(ctx, { layers: Number(a.layers), steps: Number(a.steps), dtype: a.dtype as DType, replay: a.replay, cpuMs });
for (const f of figures) console.log(JSON.stringify(f));
ctx.destroy();
