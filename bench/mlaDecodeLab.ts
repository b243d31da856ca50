/**
 * MLA decode attention lab: the kernel of src/kernels/attentionMla.ts (main + combine, as attention() runs it
 * at decode) on DeepSeek-V2-Lite's shape (16 heads, rows of 576 = kv_lora_rank 512 + rope 64, values 512),
 * T = 1, at each context, for each set of `mla` kernel overrides (src/gpu/kernelOverrides.ts). Timed back to
 * back (`--iters` calls in one compute pass and one submit, each depending on the one before: the figure
 * includes the dependent-dispatch floor; wall clock / calls, median of 5 rounds). Calls rotate over enough
 * caches (96 MB in all, as many as 256) that the rows come from DRAM, as across a model's layers. Each
 * variant is first checked against the CPU reference at the first context.
 *
 *   npm run build && node dist/bench/mlaDecodeLab.js [--contexts 128,4096] [--iters 200]
 *        [--variants '[{}, {"headsPerGroup":4}, {"targetWorkgroups":512}]'] [--quick] [--out result.json]
 * --quick: context 40 and 2 calls (a smoke test on SwiftShader).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { MlaAttentionOverrides } from '../src/gpu/kernelOverrides.js';
import { attention } from '../src/kernels/attention.js';
import { mlaDecodeShape, mlaSpan } from '../src/kernels/attentionMla.js';
import { attentionRef } from '../src/kernels/ref/attention.js';
import { createNodeGpu } from '../src/node/gpu.js';
import { timeB2b } from './labTiming.js';

const { values: a } = parseArgs({
  options: {
    contexts: { type: 'string', default: '128,4096' },
    iters: { type: 'string', default: '200' },
    variants: { type: 'string', default: '[{}]' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

const [nH, D, Dv] = [16, 576, 512];
const contexts = a.quick ? [40] : a.contexts!.split(',').map(Number);
const iters = a.quick ? 2 : Number(a.iters);
const variants = JSON.parse(a.variants!) as MlaAttentionOverrides[];
const ctx = await createNodeGpu();
const capacity = Math.max(...contexts) + 64;
const rowBytes = D * 4;
const nCaches = a.quick ? 2 : Math.max(4, Math.min(256, Math.ceil((96 << 20) / (capacity * rowBytes))));
let seed = 1;
const rand = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
const qHost = rand(nH * D);
const kHost = rand(capacity * D);
const q = ctx.upload(qHost, [1, nH, D], 'f32');
const caches = Array.from({ length: nCaches }, (_, i) =>
  i === 0 ? ctx.upload(kHost, [capacity, 1, D], 'f32') : ctx.upload(rand(capacity * D), [capacity, 1, D], 'f32'),
);
const out = ctx.createTensor([1, nH, Dv], 'f32');
const scale = 1 / Math.sqrt(192);
console.log(
  `adapter: ${ctx.adapterInfo?.vendor ?? ''} ${ctx.adapterInfo?.description ?? ''}; workgroup memory ${ctx.limits.maxComputeWorkgroupStorageSize} B; ${nCaches} caches of ${capacity} rows`,
);

const results: Record<string, unknown>[] = [];
for (const mla of variants) {
  ctx.kernelOverrides = { mla };

  // Check against the CPU reference at the first context.
  const c0 = contexts[0]!;
  attention(ctx, q, caches[0]!, caches[0]!, out, { startPos: c0, scale, vFromK: true });
  const want = attentionRef(qHost, kHost, kHost, 1, nH, 1, D, Dv, capacity, { startPos: c0, scale, vFromK: true });
  const got = await ctx.readF32(out);
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
  for (const context of contexts) {
    const shape = mlaDecodeShape(ctx, nH, D / 4, mlaSpan(context + 1, capacity));
    const s = await timeB2b(ctx, (i) => attention(ctx, q, caches[i % nCaches]!, caches[i % nCaches]!, out, { startPos: context, scale, vFromK: true }), iters);
    const r = { overrides: mla, ...shape, context, us: s * 1e6, maxErr: err };
    results.push(r);
    console.log(
      `${JSON.stringify(mla).padEnd(56)} HG ${shape.HG} target ${shape.target} VPS ${shape.VPS}  context ${String(context).padStart(5)}: ${(s * 1e6).toFixed(1).padStart(7)} us  (max |err| ${err.toExponential(1)})`,
    );
  }
}
if (a.out) writeFileSync(a.out, JSON.stringify({ date: new Date().toISOString(), adapter: ctx.adapterInfo, results }, null, 2));
ctx.destroy();
process.exit(0);
