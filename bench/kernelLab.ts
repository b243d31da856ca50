/**
 * Kernel lab: decode GEMV (y = x · Wᵀ at T = 1) of real model shapes in q4_0, q8_0 and q4_k, on random
 * weights generated here. Each case is first checked against the CPU reference on a few rows, then timed
 * as many back-to-back dispatches in one submit. Effective bandwidth = weight bytes / time per call,
 * compared with a read-bandwidth roofline (shaders/bandwidth.wgsl) measured in the same run.
 *
 *   npm run build && node dist/bench/kernelLab.js [--quick] [--out result.json] [--iters 200]
 *        [--dtypes q4_0,q8_0,q4_k] [--variants auto,generic,r1,r2,r4,l16] [--prefill]
 */
import { writeFileSync } from 'node:fs';
import type { GpuContext } from '../src/gpu/context.js';
import { params } from '../src/gpu/params.js';
import { byteSizeOf, dtypeLayout, type DType, type Tensor } from '../src/gpu/tensor.js';
import { gemvTuning, matmul } from '../src/kernels/matmul.js';
import { createNodeGpu } from '../src/node/gpu.js';
import { dequantize, f32ToF16 } from '../src/weights/quant/index.js';

interface Args {
  quick: boolean;
  out?: string;
  iters: number;
  dtypes: DType[];
  /** GEMV variants at T = 1: auto, generic (the chunk GEMV), rN (pairs GEMV with N rows per lane group), lN (generic with N lanes). */
  variants: string[];
  prefill: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, iters: 200, dtypes: ['q4_0', 'q8_0', 'q4_k'], variants: ['auto'], prefill: false };
  for (let i = 0; i < argv.length; i++) {
    const v = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return next;
    };
    switch (argv[i]) {
      case '--quick':
        a.quick = true;
        break;
      case '--out':
        a.out = v();
        break;
      case '--iters':
        a.iters = Number(v());
        break;
      case '--dtypes':
        a.dtypes = v().split(',') as DType[];
        break;
      case '--lanes':
        a.variants = v().split(',').map((n) => (n === '0' ? 'auto' : `l${n}`));
        break;
      case '--variants':
        a.variants = v().split(',');
        break;
      case '--prefill':
        a.prefill = true;
        break;
      default:
        throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (a.quick) a.iters = Math.min(a.iters, 3);
  return a;
}

const DECODE_SHAPES: [number, number][] = [
  [1536, 1536],
  [8960, 1536],
  [1536, 8960],
  [4096, 4096],
  [14336, 4096],
  [151936, 1536],
];
const QUICK_SHAPES: [number, number][] = [
  [37, 256],
  [96, 512],
];

/** Random blocks of `dtype` with small valid scales (xorshift; deterministic per seed). */
function randomWeights(dtype: DType, count: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(byteSizeOf(dtype, count));
  const words = new Uint32Array(bytes.buffer, 0, bytes.byteLength >> 2);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    words[i] = s >>> 0;
  }
  const { blockBytes } = dtypeLayout[dtype];
  const half = (at: number, v: number) => {
    const h = f32ToF16(v);
    bytes[at] = h & 0xff;
    bytes[at + 1] = h >>> 8;
  };
  const scale = (b: number) => 0.002 + 0.002 * ((b * 7919) % 13) / 13;
  for (let b = 0, at = 0; at < bytes.length; b++, at += blockBytes) {
    if (dtype === 'q8_0' || dtype === 'q4_0') half(at, scale(b));
    else if (dtype === 'q4_k') {
      half(at, scale(b));
      half(at + 2, scale(b + 1));
    } else if (dtype === 'q6_k') half(at + 208, scale(b));
    else if (dtype === 'f16' || dtype === 'bf16' || dtype === 'f32') throw new Error('kernel lab: block formats only');
  }
  return bytes;
}

/** Seconds per dispatch of `record` (one dispatch), timed as `iters` dispatches in one submit. */
async function timePerCall(ctx: GpuContext, record: () => void, iters: number): Promise<number> {
  record();
  await ctx.sync(); // compile, bind groups
  for (let i = 0; i < iters; i++) record();
  await ctx.sync(); // warm: the same slots and bind groups again
  for (let i = 0; i < iters; i++) record();
  const t0 = performance.now();
  await ctx.sync();
  return (performance.now() - t0) / 1000 / iters;
}

async function roofline(ctx: GpuContext, bytes: number, iters: number): Promise<{ bytes: number; best: number; grids: Record<string, number> }> {
  const src = ctx.createTensor([bytes / 4], 'u32', 'bandwidth.src');
  const sink = ctx.createTensor([4], 'u32', 'bandwidth.sink');
  const count = bytes / 16;
  const grids: Record<string, number> = {};
  let best = 0;
  for (const groups of [132 * 4, 132 * 8, 132 * 16, 132 * 32, Math.ceil(count / 256)]) {
    const g = Math.min(groups, ctx.limits.maxComputeWorkgroupsPerDimension);
    const sec = await timePerCall(
      ctx,
      () =>
        ctx.dispatch({ shader: 'bandwidth', layout: ['uniform', 'read', 'storage'] }, [src, sink], [g], params().u32(count).u32(0).u32(0).u32(0)),
      Math.max(2, Math.ceil(iters / 10)),
    );
    grids[g] = bytes / sec / 1e9;
    best = Math.max(best, grids[g]!);
  }
  ctx.destroyBuffer(src.buffer);
  ctx.destroyBuffer(sink.buffer);
  return { bytes, best, grids };
}

interface Row {
  dtype: DType;
  N: number;
  K: number;
  T: number;
  variant: string;
  weightBytes: number;
  usPerCall: number;
  gbPerS: number;
  ofRoofline: number;
  maxRelErr: number;
}

/** Largest |gpu - ref| / Σ|x||w| over a few rows, the reference from the dequantized row. */
function validate(x: Float32Array, w: Uint8Array, dtype: DType, N: number, K: number, T: number, y: Float32Array): number {
  const rowBytes = byteSizeOf(dtype, K);
  let worst = 0;
  for (const n of new Set([0, 1, N >> 1, N - 1])) {
    const row = dequantize(w.subarray(n * rowBytes, (n + 1) * rowBytes), dtype, K);
    for (let t = 0; t < T; t++) {
      let ref = 0;
      let abs = 0;
      for (let k = 0; k < K; k++) {
        ref += x[t * K + k]! * row[k]!;
        abs += Math.abs(x[t * K + k]! * row[k]!);
      }
      worst = Math.max(worst, Math.abs(y[t * N + n]! - ref) / (abs + 1e-30));
    }
  }
  return worst;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const ctx = await createNodeGpu();
  const info = ctx.adapterInfo;
  console.log(`adapter: ${info.vendor} ${info.architecture} ${info.description}  features: ${JSON.stringify(ctx.features)}`);
  const roof = await roofline(ctx, args.quick ? 16 << 20 : 256 << 20, args.iters);
  console.log(`read roofline (${roof.bytes >> 20} MiB, vec4<u32>): ${roof.best.toFixed(0)} GB/s  by grid ${JSON.stringify(roof.grids, (_, v) => (typeof v === 'number' ? Math.round(v) : v))}`);
  const rows: Row[] = [];
  const shapes = args.quick ? QUICK_SHAPES : DECODE_SHAPES;
  const Ts = args.prefill ? [1, 256] : [1];
  console.log('dtype  T       N      K variant   weight MB   us/call     GB/s   %roof   max rel err');
  for (const dtype of args.dtypes) {
    for (const [N, K] of shapes) {
      const wBytes = randomWeights(dtype, N * K, N + K);
      const w: Tensor = ctx.upload(wBytes, [N, K], dtype, `w ${dtype} ${N}x${K}`);
      for (const T of Ts) {
        const x = Float32Array.from({ length: T * K }, (_, i) => Math.sin(i * 0.37) + 0.1);
        const xt = ctx.upload(x, [T, K], 'f32');
        const yt = ctx.createTensor([T, N], 'f32');
        for (const variant of T === 1 ? args.variants : ['auto']) {
          setVariant(variant);
          matmul(ctx, xt, w, yt);
          const err = validate(x, wBytes, dtype, N, K, T, await ctx.readF32(yt));
          if (!(err < 1e-4)) throw new Error(`${dtype} ${N}x${K} T=${T}: GPU and CPU reference differ (relative ${err})`);
          const sec = await timePerCall(ctx, () => matmul(ctx, xt, w, yt), args.iters);
          const r: Row = {
            dtype,
            N,
            K,
            T,
            variant,
            weightBytes: wBytes.byteLength,
            usPerCall: sec * 1e6,
            gbPerS: wBytes.byteLength / sec / 1e9,
            ofRoofline: wBytes.byteLength / sec / 1e9 / roof.best,
            maxRelErr: err,
          };
          rows.push(r);
          console.log(
            `${dtype.padEnd(5)} ${String(T).padStart(3)} ${String(N).padStart(7)} ${String(K).padStart(6)} ${variant.padStart(7)} ${(r.weightBytes / 1e6).toFixed(2).padStart(11)} ${r.usPerCall.toFixed(2).padStart(9)} ${r.gbPerS.toFixed(0).padStart(8)} ${(100 * r.ofRoofline).toFixed(1).padStart(7)}   ${err.toExponential(2)}` +
              (T > 1 ? `   (${((2 * T * N * K) / sec / 1e12).toFixed(2)} TFLOP/s)` : ''),
          );
        }
        setVariant('auto');
        ctx.destroyBuffer(xt.buffer);
        ctx.destroyBuffer(yt.buffer);
      }
      ctx.destroyBuffer(w.buffer);
    }
  }
  const result = { adapter: info, features: ctx.features, iters: args.iters, roofline: roof, rows, date: new Date().toISOString() };
  if (args.out) writeFileSync(args.out, JSON.stringify(result, null, 2));
  ctx.destroy();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/** auto | generic | lN (generic, N lanes) | qLrR / xLrR / sLrR (pairs GEMV: x and W from global / x in workgroup memory / W staged; L lanes, R rows per group). */
function setVariant(v: string): void {
  gemvTuning.generic = v === 'generic' || v.startsWith('l');
  gemvTuning.lanes = v.startsWith('l') ? Number(v.slice(1)) : 0;
  const q = /^(?:([qsx])(\d+))?r(\d+)$/.exec(v);
  gemvTuning.quantLanes = q?.[2] ? Number(q[2]) : 0;
  gemvTuning.rows = q ? Number(q[3]) : 0;
  gemvTuning.staged = q ? q[1] === 's' : undefined;
  gemvTuning.xShared = q ? q[1] === 'x' : undefined;
}
