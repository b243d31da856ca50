/**
 * MoE decode lab: the kernels of one MoE layer at decode (T = 1, or --ts 1,2,4) on the expert shapes of
 * Qwen3-30B-A3B and DeepSeek-V2-Lite, random weights and routing generated here. Parts, each timed back to
 * back (`iters` calls in one compute pass and one submit, each call depending on the one before, as in a
 * decode step: the figure includes the dependent-dispatch floor; wall clock / calls, median of 5 rounds; --quick: 2 calls, 1 round):
 *   router    the router GEMV, x [T, H] · router [E, H] f32 (matmul)
 *   route     moeRoute (softmax, top-k, renormalised) over the logits
 *   gate|up   int8: moeDecodeGateUp (integer dot products); f32: moeGateUp `pairs`
 *   down      int8: moeDecodeDown (down + weighted combine); f32: moeDown `combine`
 *   experts   moeExperts (gate|up + down, as the layer runs it)
 *   layer     moeBlock: router + route + experts (+ the shared experts where the model has them)
 * Calls rotate over 64 routings so that the selected experts' rows come from DRAM, as across a model's
 * layers. Each path is first checked against the CPU reference over the dequantized selected experts
 * (max |gpu - ref| / max |ref| of the token's outputs). GB/s = selected experts' bytes / time.
 *
 *   npm run build && node dist/bench/moeDecodeLab.js [--quick] [--dtypes q4_0,q8_0,q4_k] [--ts 1] [--iters 200]
 *        [--lanes gateUpLanes,downLanes,downRows,downUnits e.g. 32,32,1,2] [--out result.json]
 * --quick: a small shape and few calls (a smoke test on SwiftShader).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { GpuContext } from '../src/gpu/context.js';
import { params } from '../src/gpu/params.js';
import { byteSizeOf, type DType, type Tensor } from '../src/gpu/tensor.js';
import { weightDefine } from '../src/kernels/weights.js';
import { moeExperts, moeRoute } from '../src/kernels/moe.js';
import { moeDecodeActBytes, moeDecodeDown, moeDecodeGateUp, moeDecodePlan } from '../src/kernels/moeDecode.js';
import type { MoeExpertWeights } from '../src/kernels/moeTypes.js';
import { moeExpertsRef } from '../src/kernels/ref/moe.js';
import { matmul } from '../src/kernels/matmul.js';
import { moeBlock, MoeScratch, type MoeSettings, type MoeWeights } from '../src/layers/moe.js';
import { createNodeGpu } from '../src/node/gpu.js';
import { dequantize } from '../src/weights/quant/index.js';
import { randomBlocks, randomRouting } from './labRandom.js';
import { ROUNDS, timeB2b } from './labTiming.js';

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    dtypes: { type: 'string', default: 'q4_0,q8_0,q4_k' },
    ts: { type: 'string', default: '1' },
    iters: { type: 'string', default: '200' },
    lanes: { type: 'string' },
    out: { type: 'string' },
  },
});

interface Shape {
  model: string;
  H: number;
  I: number;
  E: number;
  k: number;
  /** Shared experts' intermediate size (one stacked expert), where the model has them. */
  sharedI?: number;
  layers: number;
}
const SHAPES: Shape[] = [
  { model: 'Qwen3-30B-A3B', H: 2048, I: 768, E: 128, k: 8, layers: 48 },
  { model: 'DeepSeek-V2-Lite', H: 2048, I: 1408, E: 64, k: 6, sharedI: 2816, layers: 26 },
];
const QUICK: Shape[] = [{ model: 'quick', H: 256, I: 256, E: 4, k: 2, sharedI: 256, layers: 1 }];

const quick = a.quick!;
const shapes = quick ? QUICK : SHAPES;
const iters = quick ? 2 : Number(a.iters);
/** Rounds per figure (labTiming's; 1 with --quick). */
const rounds = quick ? 1 : ROUNDS;
const Ts = a.ts!.split(',').map(Number);
const dtypes = a.dtypes!.split(',') as DType[];
const ROUTINGS = quick ? 4 : 64;
const [g, d, r, u] = a.lanes ? a.lanes.split(',').map(Number) : [];
/** The lanes of --lanes (moeDecode overrides of src/gpu/kernelOverrides.ts), with the path: int8 (the default) or f32. */
const lanes = a.lanes ? { gateUpLanes: g, downLanes: d, downRows: r, downUnits: u } : {};

/** The f32 pairs kernels of moeExperts, one half at a time (as src/kernels/moe.ts dispatches them). */
function f32GateUp(ctx: GpuContext, x: Tensor, ids: Tensor, ex: MoeExpertWeights, act: GPUBuffer, T: number, k: number, H: number, I: number): void {
  ctx.dispatch(
    {
      shader: 'moeGateUp',
      entry: 'pairs',
      defines: { [weightDefine[ex.gateUp.dtype]!]: true, ACT_GELU: false, ACT_CLAMP: false },
      layout: ['uniform', 'read', 'read', 'read', 'read', 'storage', 'read', 'read'],
    },
    [x, ids, ex.gateUp, ctx.unused, act, ctx.unused, ctx.unused],
    [Math.ceil(I / 4), T * k],
    params().u32(T).u32(k).u32(H).u32(I).u32(byteSizeOf(ex.gateUp.dtype, H)).u32(0).u32(T).f32(0).f32(0),
  );
}
function f32Down(ctx: GpuContext, act: GPUBuffer, ids: Tensor, w: Tensor, ex: MoeExpertWeights, out: Tensor, T: number, k: number, H: number, I: number): void {
  ctx.dispatch(
    {
      shader: 'moeDown',
      entry: 'combine',
      defines: { [weightDefine[ex.down.dtype]!]: true },
      layout: ['uniform', 'read', 'read', 'read', 'read', 'read', 'storage', 'read', 'read'],
    },
    [act, ids, w, ex.down, ctx.unused, out, ctx.unused, ctx.unused],
    [Math.ceil(H / 4), T],
    params().u32(T).u32(k).u32(H).u32(I).u32(byteSizeOf(ex.down.dtype, I)).u32(0).u32(T).u32(0),
  );
}

interface Row {
  model: string;
  dtype: DType;
  downDtype: DType;
  T: number;
  path: 'int8' | 'f32';
  part: string;
  us: number;
  gbs: number | null;
  maxRelErr: number | null;
}

async function main(): Promise<void> {
  const ctx = await createNodeGpu({ dawnFlags: ['disable-dawn-features=lazy_clear_resource_on_first_use'] });
  ctx.kernelOverrides = { moeDecode: lanes };
  /** Seconds per call of `record(i)`, `iters` calls back to back in one pass and one submit, median of the rounds. */
  const time = (record: (i: number) => void) => timeB2b(ctx, record, iters, rounds);
  console.log(`moeDecodeLab: ${ctx.features.packedDot ? 'packed dot available' : 'no packed dot: the int8 path cannot run'}; ${iters} calls b2b, us per call`);
  console.log('model              dtype      T path part          us/call     GB/s   max rel err');
  const rows: Row[] = [];
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  for (const dtype of dtypes) {
    for (const s of shapes) {
      const { H, I, E, k } = s;
      // Q4_K rows must be whole super-blocks: a down of I = 1408 is stored Q8_0 instead (as llama.cpp falls back).
      const downDtype: DType = dtype === 'q4_k' && I % 256 !== 0 ? 'q8_0' : dtype;
      const label = downDtype === dtype ? dtype : `${dtype}/${downDtype}`;
      const guBytes = randomBlocks(dtype, E * 2 * I * H, H + I + E);
      const dnBytes = randomBlocks(downDtype, E * H * I, H + 2 * I + E);
      const experts: MoeExpertWeights = {
        gateUp: ctx.upload(guBytes, [E, 2 * I, H], dtype, 'lab.gateUp'),
        down: ctx.upload(dnBytes, [E, H, I], downDtype, 'lab.down'),
      };
      const sharedOk = s.sharedI !== undefined && (dtype !== 'q4_k' || s.sharedI % 256 === 0);
      const shared: MoeExpertWeights | undefined = sharedOk
        ? {
            gateUp: ctx.upload(randomBlocks(dtype, 2 * s.sharedI! * H, 5), [1, 2 * s.sharedI!, H], dtype, 'lab.sharedGateUp'),
            down: ctx.upload(randomBlocks(dtype, H * s.sharedI!, 6), [1, H, s.sharedI!], dtype, 'lab.sharedDown'),
          }
        : undefined;
      const router = ctx.upload(
        Float32Array.from({ length: E * H }, (_, i) => Math.sin(i * 0.61) * 0.05),
        [E, H],
        'f32',
        'lab.router',
      );
      const settings: MoeSettings = { numExperts: E, route: { topK: k, scoring: 'softmax', normTopK: true, scale: 1 }, act: 'silu' };
      const moeW: MoeWeights = { router, experts, shared };
      const selectedBytes = (T: number) => Math.min(E, T * k) * (byteSizeOf(dtype, 2 * I * H) + byteSizeOf(downDtype, H * I));
      for (const T of Ts) {
        const x = Float32Array.from({ length: T * H }, (_, i) => Math.sin(i * 0.37) + 0.1);
        const xt = ctx.upload(x, [T, H], 'f32', 'lab.x');
        const routes = Array.from({ length: ROUTINGS }, (_, r) => randomRouting(T, E, k, 17 + r));
        const idsT = routes.map((r) => ctx.upload(r.ids, [T, k], 'u32'));
        const wT = routes.map((r) => ctx.upload(r.weights, [T, k], 'f32'));
        const out = ctx.createTensor([T, H], 'f32', 'lab.out');
        const logits = ctx.createTensor([T, E], 'f32', 'lab.logits');
        const ids = ctx.createTensor([T, k], 'u32', 'lab.ids');
        const rw = ctx.createTensor([T, k], 'f32', 'lab.rw');
        const scratch = new MoeScratch(ctx, settings, T);
        // The reference over the dequantized selected experts of routing 0.
        const r0 = routes[0]!;
        const gb = byteSizeOf(dtype, 2 * I * H);
        const db = byteSizeOf(downDtype, H * I);
        const sel = [...new Set(r0.ids)];
        const gateUp = new Float32Array(sel.length * 2 * I * H);
        const down = new Float32Array(sel.length * H * I);
        sel.forEach((e, c) => {
          gateUp.set(dequantize(guBytes.subarray(e * gb, (e + 1) * gb), dtype, 2 * I * H), c * 2 * I * H);
          down.set(dequantize(dnBytes.subarray(e * db, (e + 1) * db), downDtype, H * I), c * H * I);
        });
        const compactIds = Uint32Array.from(r0.ids, (e) => sel.indexOf(e));
        const want = moeExpertsRef(x, T, H, I, compactIds, r0.weights, k, { gateUp, down }, 'silu');
        const scale = Math.max(...Array.from(want, Math.abs));
        const relErr = (got: Float32Array) => got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0) / scale;
        const report = (path: Row['path'], part: string, sec: number, bytes: number | null, err: number | null) => {
          const row: Row = { model: s.model, dtype, downDtype, T, path, part, us: sec * 1e6, gbs: bytes === null ? null : bytes / sec / 1e9, maxRelErr: err };
          rows.push(row);
          console.log(
            `${s.model.padEnd(18)} ${label.padEnd(9)} ${String(T).padStart(2)} ${path.padEnd(4)} ${part.padEnd(12)} ${row.us.toFixed(2).padStart(9)} ${row.gbs === null ? '       -' : row.gbs.toFixed(0).padStart(8)}   ${err === null ? '-' : err.toExponential(2)}`,
          );
        };
        const guShare = byteSizeOf(dtype, 2 * I * H) / (byteSizeOf(dtype, 2 * I * H) + byteSizeOf(downDtype, H * I));
        report('f32', 'router', await time(() => matmul(ctx, xt, router, logits)), E * H * 4, null);
        report('f32', 'route', await time(() => moeRoute(ctx, logits, ids, rw, settings.route)), null, null);
        const plan = moeDecodePlan(ctx, xt, experts);
        for (const path of ['int8', 'f32'] as const) {
          if (path === 'int8' && !plan.gateUp) {
            console.log(`${s.model.padEnd(18)} ${label.padEnd(9)} ${String(T).padStart(2)} int8 (not for these experts: f32 path)`);
            continue;
          }
          ctx.kernelOverrides = { moeDecode: { ...lanes, ...(path === 'f32' ? { use: false } : {}) } };
          moeExperts(ctx, xt, idsT[0]!, wT[0]!, experts, out, 'silu');
          const err = relErr(await ctx.readF32(out));
          const q8 = path === 'int8' && plan.down;
          const actBytes = q8 ? moeDecodeActBytes(T * k, I) : T * k * I * 4;
          const act = ctx.pool.acquire(actBytes, usage, 'lab.act');
          const actB = { buffer: act, offset: 0, size: actBytes };
          const gu = (i: number) =>
            path === 'int8'
              ? moeDecodeGateUp(ctx, xt, idsT[i % ROUTINGS]!, experts, actB, 'silu', undefined, q8)
              : f32GateUp(ctx, xt, idsT[i % ROUTINGS]!, experts, act, T, k, H, I);
          report(path, 'gate|up', await time(gu), selectedBytes(T) * guShare, null);
          const dn = (i: number) =>
            q8
              ? moeDecodeDown(ctx, actB, idsT[i % ROUTINGS]!, wT[i % ROUTINGS]!, experts, out, false)
              : f32Down(ctx, act, idsT[i % ROUTINGS]!, wT[i % ROUTINGS]!, experts, out, T, k, H, I);
          report(path, q8 || path === 'f32' ? 'down' : 'down (f32)', await time(dn), selectedBytes(T) * (1 - guShare), null);
          ctx.pool.release(act);
          const ex = (i: number) => moeExperts(ctx, xt, idsT[i % ROUTINGS]!, wT[i % ROUTINGS]!, experts, out, 'silu');
          report(path, 'experts', await time(ex), selectedBytes(T), err);
          report(path, shared ? 'layer+shared' : 'layer', await time(() => moeBlock(ctx, settings, moeW, scratch, xt, out)), null, null);
        }
        ctx.kernelOverrides = { moeDecode: lanes };
        for (const t of [xt, out, logits, ids, rw, ...idsT, ...wT, ...scratch.tensors()]) ctx.destroyBuffer(t.buffer);
      }
      for (const t of [experts.gateUp, experts.down, router, ...(shared ? [shared.gateUp, shared.down] : [])]) ctx.destroyBuffer(t.buffer);
    }
  }
  if (a.out) writeFileSync(a.out, JSON.stringify({ tuning: lanes, iters, rows }, null, 1));
  ctx.destroy();
}

await main();
