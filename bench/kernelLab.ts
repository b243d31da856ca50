/**
 * Kernel lab: decode GEMV (y = x · Wᵀ at T = 1) of real model shapes in q4_0, q8_0 and q4_k, on random
 * weights generated here. Each case is first checked against the CPU reference on a few rows, then timed
 * two ways: back to back (`iters` dispatches in one compute pass and one submit, wall clock / iters) and per
 * kernel (GPU timestamps around each call in a compute pass of its own, median; where the device has
 * timestamp-query). Calls rotate over copies of the weights (about 256 MiB in all; at most `iters` copies
 * and 1.2 GB) so that they read them from DRAM rather than L2. Effective bandwidth = weight bytes / time per
 * call, compared with a read-bandwidth roofline (shaders/kernelLabBandwidth.wgsl) measured the same two ways.
 *
 *   npm run build && node dist/bench/kernelLab.js [--quick] [--out result.json] [--iters 200]
 *        [--dtypes q4_0,q8_0,q4_k] [--variants auto,generic,r1,r2,r4,l16] [--shapes 4096x4096,...] [--prefill] [--no-timestamps]
 *
 * --gemm: prefill GEMMs y[T, N] = x[T, K] · Wᵀ instead (T = 512 and 4096, or --ts; the shapes of Qwen2.5-1.5B and
 * Llama-3.2-1B, or --shapes), each variant checked against the CPU reference on a few outputs, then timed
 * as above (back to back and GPU timestamps), in TFLOP/s = 2 T N K / time against an f32 FMA peak and an
 * int8 dot4 peak (shaders/kernelLabPeak.wgsl) measured in the same run. Variants (--variants): tiled (the f32
 * tiled GEMM), auto (what matmul picks), or a tile of the integer-dot GEMM, BMxBNtTMxTNkKB (64x128t8x4k2:
 * 64 tokens x 128 outputs per workgroup, 8 x 4 per thread, 2 blocks of 32 per K step).
 *   node dist/bench/kernelLab.js --gemm [--quick] [--ts 512,4096] [--variants tiled,auto,64x64t4x4k2] [--dtypes q4_0]
 *
 * --gemm --moe: MoE prefill experts instead (moeExperts, grouped path: bucket, gate|up, down, combine) on the
 * expert shapes of Qwen3-30B-A3B and DeepSeek-V2-Lite with random routing, T = 512 and 4096 (or --ts); variants
 * grouped (the f32 16 x 16 tiles of moeGateUp / moeDown `grouped`), int8 (the integer-dot grouped GEMMs,
 * src/kernels/moeGemmInt8.ts, over their work list), int8grid (over the grid of every expert's row tiles) or
 * an int8 tile BMxBNtTMxTNkKB[p][grid]; TFLOP/s = 2 T k 3 I H / time.
 *   node dist/bench/kernelLab.js --gemm --moe [--quick] [--ts 512,4096] [--variants grouped,int8,int8grid,32x64t4x4k2] [--dtypes q4_0]
 */
import { writeFileSync } from 'node:fs';
import type { GpuContext } from '../src/gpu/context.js';
import type { GemvOverrides } from '../src/gpu/kernelOverrides.js';
import { params } from '../src/gpu/params.js';
import { byteSizeOf, dtypeLayout, type DType, type Tensor } from '../src/gpu/tensor.js';
import { addRmsNorm } from '../src/kernels/norm.js';
import { randomBlocks, randomRouting } from './labRandom.js';
import { median, ROUNDS, timeB2b } from './labTiming.js';
import { createXPlanes, encodeXPlanes } from '../src/kernels/xPlanes.js';
import { matmul } from '../src/kernels/matmul.js';
import { gemmInt8Tile, gemmTileName, gemmTileProblem, parseGemmTile, quantizeX8, releaseX8 } from '../src/kernels/matmulInt8.js';
import { moeExperts } from '../src/kernels/moe.js';
import { moeGemmInt8Tile, moeInt8Plan } from '../src/kernels/moeGemmInt8.js';
import { activate } from '../src/kernels/ref/moe.js';
import { createNodeGpu } from '../src/node/gpu.js';
import { dequantize } from '../src/weights/quant/index.js';

interface Args {
  quick: boolean;
  out?: string;
  iters: number;
  dtypes: DType[];
  /** GEMV variants at T = 1: auto, generic (the chunk GEMV), rN (pairs GEMV with N rows per lane group), lN (generic with N lanes). */
  variants: string[];
  /** N x K shapes instead of the (--shapes 4096x4096,14336x4096). */
  shapes?: [number, number][];
  /** Also time the decode chain norm -> GEMV with and without x in planes (--chain). */
  chain: boolean;
  prefill: boolean;
  /** Leave timestamp-query off: wall-clock timing only (the fallback of adapters without it). */
  noTimestamps: boolean;
  /** Prefill GEMMs instead of decode GEMVs (--gemm). */
  gemm: boolean;
  /** With --gemm: the MoE experts' grouped GEMMs (--moe). */
  moe: boolean;
  /** Tokens of the prefill GEMMs (--ts 512,4096). */
  ts?: number[];
  /** Whether --variants was given (the GEMM mode has its own default). */
  variantsGiven: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    quick: false,
    iters: 200,
    dtypes: ['q4_0', 'q8_0', 'q4_k'],
    variants: ['auto'],
    prefill: false,
    noTimestamps: false,
    chain: false,
    gemm: false,
    moe: false,
    variantsGiven: false,
  };
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
        a.variants = v()
          .split(',')
          .map((n) => (n === '0' ? 'auto' : `l${n}`));
        break;
      case '--variants':
        a.variants = v().split(',');
        a.variantsGiven = true;
        break;
      case '--gemm':
        a.gemm = true;
        break;
      case '--moe':
        a.moe = true;
        break;
      case '--ts':
        a.ts = v().split(',').map(Number);
        break;
      case '--shapes':
        a.shapes = v()
          .split(',')
          .map((nk) => nk.split('x').map(Number) as [number, number]);
        break;
      case '--chain':
        a.chain = true;
        break;
      case '--prefill':
        a.prefill = true;
        break;
      case '--no-timestamps':
        a.noTimestamps = true;
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

/** Dawn quantizes GPU timestamps unless told not to. */
const DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization,lazy_clear_resource_on_first_use'];
/** Weight copies rotated over: at least this many bytes between two reads of one copy (the H100's L2 is 50 MB). */
const ROTATE_BYTES = 256 << 20;
const ROTATE_MAX_BYTES = 1.2e9;

/** One call of the timed work; `i` picks the weight copy. */
type Call = (i: number) => void;

/**
 * Keeps the GPU busy reading memory for `ms` before a measurement, so that it is measured at the clocks it
 * runs at under load rather than those it drops to while the CPU prepares the next case.
 */
async function warmClocks(ctx: GpuContext, ms = warmMs): Promise<void> {
  if (ms <= 0) return;
  const words = 16 << 20;
  warmSrc ??= ctx.createTensor([words], 'u32', 'kernelLab.warm');
  warmSink ??= ctx.createTensor([4], 'u32', 'kernelLab.warmSink');
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 64; i++) bandwidthInto(ctx, warmSrc, warmSink, 2048, words / 4);
    await ctx.sync();
  }
}
let warmMs = 60; // 0 with --quick (SwiftShader)
let warmSrc: Tensor | undefined;
let warmSink: Tensor | undefined;

/**
 * Seconds per call with no dependency between calls: each call writes a buffer never used before, so
 * Dawn records no barrier between the dispatches (a buffer's first use needs no transition, and lazy
 * clearing is off) and the GPU may overlap one call's tail with the next one's start. This is the kernel's
 * streaming rate, free of the per-dispatch floor that a chain of dependent dispatches pays.
 */
async function timeIndependent(ctx: GpuContext, record: (i: number, out: Tensor) => void, outElems: number, iters: number): Promise<number> {
  const rounds: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    const outs = Array.from({ length: iters }, (_, i) => ctx.createTensor([outElems], 'f32', `kernelLab.out${i}`));
    for (let i = 0; i < iters; i++) record(i, outs[i]!);
    const t0 = performance.now();
    await ctx.sync();
    rounds.push((performance.now() - t0) / 1000 / iters);
    for (const o of outs) ctx.destroyBuffer(o.buffer);
  }
  return median(rounds);
}

/** GPU timestamps around single calls: each call gets a compute pass of its own; read back once per batch. */
class KernelTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;

  constructor(
    private readonly ctx: GpuContext,
    private readonly batch = 1024,
  ) {
    this.querySet = ctx.device.createQuerySet({ type: 'timestamp', count: 2 * batch, label: 'kernelLab.timestamps' });
    this.resolved = ctx.createBuffer(16 * batch, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, 'kernelLab.resolved');
  }

  /** Begin and end timestamps (ns) of `iters` calls, in call order. */
  async timestamps(record: Call, iters: number): Promise<bigint[]> {
    const out: bigint[] = [];
    for (let start = 0; start < iters; start += this.batch) {
      const n = Math.min(this.batch, iters - start);
      for (let j = 0; j < n; j++) {
        this.ctx.timedPass(this.querySet, 2 * j, 2 * j + 1);
        record(start + j);
      }
      this.ctx.resolveQueries(this.querySet, 0, 2 * n, this.resolved);
      out.push(...new BigUint64Array(await this.ctx.read(this.resolved, 16 * n)));
    }
    return out;
  }

  /**
   * Median GPU seconds of one call, over `iters` calls after one untimed warm-up round. A pass's start
   * timestamp is written at the top of the pipe (Dawn's Vulkan backend), so a call is counted from the end
   * of the one before when that is later: calls never overlap, each waits on the previous one's output.
   */
  async time(record: Call, iters: number): Promise<number> {
    for (let i = 0; i < iters; i++) record(i);
    await this.ctx.sync();
    const ts = await this.timestamps(record, iters);
    const start = (j: number) => (j % this.batch > 0 && ts[2 * j - 1]! > ts[2 * j]! ? ts[2 * j - 1]! : ts[2 * j]!);
    return median(Array.from({ length: iters }, (_, j) => Number(ts[2 * j + 1]! - start(j)) / 1e9));
  }

  /** Why the timestamps of a few calls cannot be trusted (zero, or going back in time), or undefined. */
  async check(record: Call): Promise<string | undefined> {
    const ts = await this.timestamps(record, 16);
    if (ts.some((t) => t === 0n)) return 'zero timestamps';
    for (let k = 1; k < ts.length; k++) if (ts[k]! < ts[k - 1]!) return `timestamp ${k} earlier than ${k - 1}`;
    if (ts[ts.length - 1] === ts[0]) return 'timestamps do not advance';
    return undefined;
  }

  destroy(): void {
    this.querySet.destroy();
    this.ctx.destroyBuffer(this.resolved);
  }
}

/** Both timings of one call: back to back (wall clock) and per kernel (median of GPU timestamps, if any). */
interface Timing {
  b2b: number;
  kernel: number | undefined;
}

async function timeBoth(ctx: GpuContext, timer: KernelTimer | undefined, record: Call, iters: number): Promise<Timing> {
  const b2b = await timeB2b(ctx, record, iters);
  return { b2b, kernel: await timer?.time(record, iters) };
}

/** The figure bandwidths and shares are computed from: kernel time when there are timestamps. */
const chosen = (t: Timing) => t.kernel ?? t.b2b;

/** A kernel timer when the adapter has timestamp queries that look sane, else why not. */
async function kernelTimer(ctx: GpuContext, probe: Call, iters: number): Promise<{ timer?: KernelTimer; note: string }> {
  if (!ctx.features.timestampQuery) return { note: 'no timestamp-query on this device' };
  const timer = new KernelTimer(ctx, Math.min(Math.max(iters, 16), 2048));
  const problem = await timer.check(probe);
  if (!problem) return { timer, note: 'GPU timestamps, one call per compute pass, median' };
  timer.destroy();
  return { note: `timestamps unusable (${problem})` };
}

interface Roofline {
  bytes: number;
  /** Best GB/s over the grids, from kernel time when there are timestamps (else = bestB2b). */
  best: number;
  bestB2b: number;
  grids: Record<string, number>;
  gridsB2b: Record<string, number>;
  /** Independent calls (timeIndependent), best grid. */
  bestIndependent: number;
  /** µs per call of a one-workgroup dispatch that reads nothing: the per-dispatch floor. */
  emptyDispatch: { usB2b: number; usKernel: number | null; usIndependent: number };
}

function bandwidthCall(ctx: GpuContext, src: Tensor, sink: Tensor, groups: number, count: number): Call {
  return () => bandwidthInto(ctx, src, sink, groups, count);
}

function bandwidthInto(ctx: GpuContext, src: Tensor, sink: Tensor, groups: number, count: number): void {
  ctx.dispatch({ shader: 'kernelLabBandwidth', layout: ['uniform', 'read', 'storage'] }, [src, sink], [groups], params().u32(count).u32(0).u32(0).u32(0));
}

async function roofline(ctx: GpuContext, timer: KernelTimer | undefined, bytes: number, iters: number): Promise<Roofline> {
  const src = ctx.createTensor([bytes / 4], 'u32', 'bandwidth.src');
  const sink = ctx.createTensor([4], 'u32', 'bandwidth.sink');
  const count = bytes / 16;
  const n = Math.max(2, Math.ceil(iters / 10));
  const r: Roofline = {
    bytes,
    best: 0,
    bestB2b: 0,
    grids: {},
    gridsB2b: {},
    bestIndependent: 0,
    emptyDispatch: { usB2b: 0, usKernel: null, usIndependent: 0 },
  };
  for (const groups of [132 * 4, 132 * 8, 132 * 16, 132 * 32, Math.ceil(count / 256)]) {
    const g = Math.min(groups, ctx.limits.maxComputeWorkgroupsPerDimension);
    await warmClocks(ctx);
    const t = await timeBoth(ctx, timer, bandwidthCall(ctx, src, sink, g, count), n);
    r.gridsB2b[g] = bytes / t.b2b / 1e9;
    r.grids[g] = bytes / chosen(t) / 1e9;
    r.bestB2b = Math.max(r.bestB2b, r.gridsB2b[g]!);
    r.best = Math.max(r.best, r.grids[g]!);
    const ind = await timeIndependent(ctx, (_, out) => bandwidthInto(ctx, src, out, g, count), 4, n);
    r.bestIndependent = Math.max(r.bestIndependent, bytes / ind / 1e9);
  }
  const empty = await timeBoth(ctx, timer, bandwidthCall(ctx, src, sink, 1, 0), iters);
  const emptyInd = await timeIndependent(ctx, (_, out) => bandwidthInto(ctx, src, out, 1, 0), 4, iters);
  r.emptyDispatch = { usB2b: empty.b2b * 1e6, usKernel: empty.kernel === undefined ? null : empty.kernel * 1e6, usIndependent: emptyInd * 1e6 };
  ctx.destroyBuffer(src.buffer);
  ctx.destroyBuffer(sink.buffer);
  return r;
}

/**
 * Seconds per call, back to back, of shaders/kernelLabBandwidth.wgsl reading the bytes of the weight copies (best of
 * a few grids): what a dispatch that only streams these bytes costs in the same setting.
 */
async function streamReference(ctx: GpuContext, ws: Tensor[], bytes: number, iters: number): Promise<number> {
  const count = Math.floor(bytes / 16);
  const views = ws.map((w) => ctx.view(w, [count * 4], 0, 'u32'));
  const sink = ctx.createTensor([4], 'u32', 'stream.sink');
  let best = Infinity;
  for (const groups of [Math.ceil(count / 256), 132 * 8, 132 * 32]) {
    const g = Math.min(groups, ctx.limits.maxComputeWorkgroupsPerDimension);
    await warmClocks(ctx);
    best = Math.min(best, await timeB2b(ctx, (i) => bandwidthInto(ctx, views[i % views.length]!, sink, g, count), iters));
  }
  ctx.destroyBuffer(sink.buffer);
  return best;
}

/** Weight copies to rotate over, so that a call finds its weights in DRAM rather than in L2; never more than the calls of one round. */
function copyCount(weightBytes: number, iters: number): number {
  const wanted = Math.min(Math.ceil(ROTATE_BYTES / weightBytes), Math.floor(ROTATE_MAX_BYTES / weightBytes), iters);
  return Math.max(2, wanted);
}

interface Row {
  /** µs per call b2b of a plain read of the same weight bytes (kernelLabBandwidth.wgsl, best grid): the floor for this size. */
  usStream: number;
  dtype: DType;
  N: number;
  K: number;
  T: number;
  variant: string;
  weightBytes: number;
  /** Weight copies rotated over (call i reads copy i % copies). */
  copies: number;
  /** µs per call, back to back in one compute pass (wall clock / calls). */
  usPerCall: number;
  /** µs per call, median of GPU timestamps around single calls; null without timestamps. */
  usKernel: number | null;
  /** From usKernel when there are timestamps, else from usPerCall; against roofline.best. */
  gbPerS: number;
  ofRoofline: number;
  /** From usPerCall, against roofline.bestB2b. */
  gbPerSB2b: number;
  ofRooflineB2b: number;
  /** µs per call of independent calls (timeIndependent), and its share of roofline.bestIndependent. */
  usIndependent: number;
  ofRooflineIndependent: number;
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

const fmt = (v: number | null, digits: number, width: number) => (v === null ? '-' : v.toFixed(digits)).padStart(width);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.quick) warmMs = 0;
  const ctx = await createNodeGpu({ dawnFlags: DAWN_FLAGS, disableFeatures: args.noTimestamps ? ['timestamp-query'] : [] });
  const info = ctx.adapterInfo;
  console.log(`adapter: ${info.vendor} ${info.architecture} ${info.description}  features: ${JSON.stringify(ctx.features)}  dawn: ${DAWN_FLAGS.join(' ')}`);
  const probe = [ctx.createTensor([4], 'u32', 'probe.src'), ctx.createTensor([4], 'u32', 'probe.sink')] as const;
  const { timer, note } = await kernelTimer(ctx, bandwidthCall(ctx, probe[0], probe[1], 1, 1), args.iters);
  for (const t of probe) ctx.destroyBuffer(t.buffer);
  const method = timer ? 'kernel' : 'b2b';
  if (args.gemm) {
    const gemm = args.moe ? await moeLab(ctx, timer, args) : await gemmLab(ctx, timer, args);
    if (args.out)
      writeFileSync(
        args.out,
        JSON.stringify(
          { adapter: info, features: ctx.features, dawnFlags: DAWN_FLAGS, timing: method, timingNote: note, ...gemm, date: new Date().toISOString() },
          null,
          2,
        ),
      );
    timer?.destroy();
    ctx.destroy();
    return;
  }
  console.log(
    timer
      ? `timing: us/call b2b = wall clock / calls back to back in one pass; us kernel = ${note}. GB/s and %roof from us kernel`
      : `timing: ${note}; falling back to the wall clock: GB/s and %roof from us/call b2b (back to back in one pass)`,
  );
  const roof = await roofline(ctx, timer, args.quick ? 16 << 20 : 256 << 20, args.iters);
  const round = (_: string, v: unknown) => (typeof v === 'number' ? Math.round(v) : v);
  const kernelRoof = timer ? `${roof.best.toFixed(0)} GB/s kernel (by grid ${JSON.stringify(roof.grids, round)}), ` : '';
  console.log(
    `read roofline (${roof.bytes >> 20} MiB, vec4<u32>): ${kernelRoof}${roof.bestB2b.toFixed(0)} GB/s b2b (by grid ${JSON.stringify(roof.gridsB2b, round)})`,
  );
  console.log(`read roofline, independent calls: ${roof.bestIndependent.toFixed(0)} GB/s`);
  console.log(
    `empty dispatch: ${roof.emptyDispatch.usB2b.toFixed(2)} us/call b2b, ${roof.emptyDispatch.usKernel?.toFixed(2) ?? '-'} us kernel, ${roof.emptyDispatch.usIndependent.toFixed(2)} us independent`,
  );
  const rows: Row[] = [];
  const shapes = args.shapes ?? (args.quick ? QUICK_SHAPES : DECODE_SHAPES);
  const Ts = args.prefill ? [1, 256] : [1];
  console.log('dtype  T       N      K variant   weight MB copies us/call b2b  us kernel     GB/s   %roof  %roof b2b   us indep  %roof ind   max rel err');
  for (const dtype of args.dtypes) {
    for (const [N, K] of shapes) {
      const wBytes = randomBlocks(dtype, N * K, N + K);
      const copies = copyCount(wBytes.byteLength, args.iters);
      const ws: Tensor[] = Array.from({ length: copies }, (_, c) => ctx.upload(wBytes, [N, K], dtype, `w ${dtype} ${N}x${K} #${c}`));
      const stream = await streamReference(ctx, ws, wBytes.byteLength, args.iters);
      console.log(
        `${dtype.padEnd(5)}         ${String(N).padStart(7)} ${String(K).padStart(6)}  stream: ${(stream * 1e6).toFixed(2)} us/call b2b to read the same bytes (shaders/kernelLabBandwidth.wgsl), ${((100 * wBytes.byteLength) / stream / 1e9 / roof.bestB2b).toFixed(1)}% of the roofline`,
      );
      for (const T of Ts) {
        const x = Float32Array.from({ length: T * K }, (_, i) => Math.sin(i * 0.37) + 0.1);
        const xt = ctx.upload(x, [T, K], 'f32');
        const yt = ctx.createTensor([T, N], 'f32');
        // x in planes, as the norm before a decode GEMV writes them (variants ending in +xp read them).
        const planes = T === 1 && K % 64 === 0 ? createXPlanes(ctx, K) : undefined;
        if (planes) encodeXPlanes(ctx, xt, planes);
        for (const variant of T === 1 ? args.variants : ['auto']) {
          const xp = variant.endsWith('+xp') ? planes : undefined;
          ctx.kernelOverrides = { gemv: gemvVariant(variant.replace(/\+xp$/, '')) };
          matmul(ctx, xt, ws[0]!, yt, undefined, xp);
          const err = validate(x, wBytes, dtype, N, K, T, await ctx.readF32(yt));
          if (!(err < 1e-4)) throw new Error(`${dtype} ${N}x${K} T=${T}: GPU and CPU reference differ (relative ${err})`);
          await warmClocks(ctx);
          const t = await timeBoth(ctx, timer, (i) => matmul(ctx, xt, ws[i % copies]!, yt, undefined, xp), args.iters);
          const ind = await timeIndependent(ctx, (i, out) => matmul(ctx, xt, ws[i % copies]!, ctx.view(out, [T, N]), undefined, xp), T * N, args.iters);
          const gb = (sec: number) => wBytes.byteLength / sec / 1e9;
          const r: Row = {
            usStream: stream * 1e6,
            dtype,
            N,
            K,
            T,
            variant,
            weightBytes: wBytes.byteLength,
            copies,
            usPerCall: t.b2b * 1e6,
            usKernel: t.kernel === undefined ? null : t.kernel * 1e6,
            gbPerS: gb(chosen(t)),
            ofRoofline: gb(chosen(t)) / roof.best,
            gbPerSB2b: gb(t.b2b),
            ofRooflineB2b: gb(t.b2b) / roof.bestB2b,
            usIndependent: ind * 1e6,
            ofRooflineIndependent: gb(ind) / roof.bestIndependent,
            maxRelErr: err,
          };
          rows.push(r);
          console.log(
            `${dtype.padEnd(5)} ${String(T).padStart(3)} ${String(N).padStart(7)} ${String(K).padStart(6)} ${variant.padStart(7)} ${(r.weightBytes / 1e6).toFixed(2).padStart(11)} ${String(copies).padStart(6)}` +
              ` ${fmt(r.usPerCall, 2, 11)} ${fmt(r.usKernel, 2, 10)} ${fmt(r.gbPerS, 0, 8)} ${fmt(100 * r.ofRoofline, 1, 7)} ${fmt(100 * r.ofRooflineB2b, 1, 10)} ${fmt(r.usIndependent, 2, 10)} ${fmt(100 * r.ofRooflineIndependent, 1, 10)}   ${err.toExponential(2)}` +
              (T > 1 ? `   (${((2 * T * N * K) / chosen(t) / 1e12).toFixed(2)} TFLOP/s)` : ''),
          );
        }
        ctx.kernelOverrides = undefined;
        ctx.destroyBuffer(xt.buffer);
        ctx.destroyBuffer(yt.buffer);
        if (planes) ctx.destroyBuffer(planes.buffer);
      }
      for (const w of ws) ctx.destroyBuffer(w.buffer);
    }
  }
  const result = {
    adapter: info,
    features: ctx.features,
    dawnFlags: DAWN_FLAGS,
    iters: args.iters,
    timing: method,
    timingNote: note,
    roofline: roof,
    rows,
    date: new Date().toISOString(),
  };
  if (args.chain) (result as Record<string, unknown>).chain = await timeChains(ctx, args, shapes);
  if (args.out) writeFileSync(args.out, JSON.stringify(result, null, 2));
  timer?.destroy();
  ctx.destroy();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * The decode pattern norm -> GEMV, b2b: addRmsNorm then matmul, each pair depending on the one before, with
 * the norm writing x in planes for the GEMV or the GEMV encoding x itself; and the norm alone both ways.
 */
async function timeChains(ctx: GpuContext, args: Args, shapes: [number, number][]): Promise<Record<string, number | string>[]> {
  console.log('chain: µs per call b2b        dtype       N      K   norm  norm+planes   norm->gemv  norm+planes->gemv(planes)');
  const out: Record<string, number | string>[] = [];
  for (const dtype of args.dtypes) {
    for (const [N, K] of shapes) {
      if (K % 64 !== 0) continue;
      const wBytes = randomBlocks(dtype, N * K, N + K);
      const copies = copyCount(wBytes.byteLength, args.iters);
      const ws = Array.from({ length: copies }, (_, c) => ctx.upload(wBytes, [N, K], dtype, `chain w #${c}`));
      const h = ctx.upload(
        Float32Array.from({ length: K }, (_, i) => Math.sin(i)),
        [1, K],
        'f32',
      );
      const delta = ctx.createTensor([1, K], 'f32'); // zeros: h stays as it is
      const nw = ctx.upload(
        Float32Array.from({ length: K }, (_, i) => 1 + 0.01 * Math.cos(i)),
        [K],
        'f32',
      );
      const x = ctx.createTensor([1, K], 'f32');
      const y = ctx.createTensor([1, N], 'f32');
      const planes = createXPlanes(ctx, K);
      ctx.kernelOverrides = { gemv: { planes: true } };
      const norm = (p?: Tensor) => () => addRmsNorm(ctx, h, delta, nw, x, 1e-6, 0, p);
      const pair = (p?: Tensor) => (i: number) => {
        addRmsNorm(ctx, h, delta, nw, x, 1e-6, 0, p);
        matmul(ctx, x, ws[i % copies]!, y, undefined, p);
      };
      await warmClocks(ctx);
      const r = {
        dtype,
        N,
        K,
        usNorm: (await timeB2b(ctx, norm(), args.iters)) * 1e6,
        usNormPlanes: (await timeB2b(ctx, norm(planes), args.iters)) * 1e6,
        usNormGemv: (await timeB2b(ctx, pair(), args.iters)) * 1e6,
        usNormGemvPlanes: (await timeB2b(ctx, pair(planes), args.iters)) * 1e6,
      };
      ctx.kernelOverrides = undefined;
      out.push(r);
      console.log(
        `chain                          ${dtype.padEnd(5)} ${String(N).padStart(7)} ${String(K).padStart(6)} ${fmt(r.usNorm, 2, 6)} ${fmt(r.usNormPlanes, 2, 12)} ${fmt(r.usNormGemv, 2, 12)} ${fmt(r.usNormGemvPlanes, 2, 26)}`,
      );
      for (const t of [...ws, h, delta, nw, x, y, planes]) ctx.destroyBuffer(t.buffer);
    }
  }
  return out;
}

/**
 * The GEMV overrides of a variant: auto (none) | generic | lN (generic, N lanes) | qLrR / xLrR (f32 pairs
 * GEMV: x from global / x in workgroup memory; L lanes, R rows per group) | iLrR[v][gM] (integer-dot GEMV; v:
 * Q4_K words one by one, not as vec4s; gM: at most M workgroups launched); any of them + "+xp": x given in
 * planes (src/kernels/xPlanes.ts), as a norm writes them for the GEMV after it.
 */
function gemvVariant(v: string): GemvOverrides {
  if (v === 'auto') return {};
  if (v === 'generic' || v.startsWith('l')) return { generic: true, lanes: v.startsWith('l') ? Number(v.slice(1)) : 0 };
  const q = /^(?:([qxi])(\d+))?r(\d+)(v?)(?:g(\d+))?$/.exec(v);
  if (!q) throw new Error(`GEMV variant "${v}" is not auto, generic, lN, qLrR, xLrR or iLrR[v][gM]`);
  return {
    quantLanes: q[2] ? Number(q[2]) : 0,
    rows: Number(q[3]),
    xShared: q[1] === 'x',
    int8: q[1] === 'i',
    vec4Weights: q[4] !== 'v',
    maxGroups: q[5] ? Number(q[5]) : 0,
  };
}

/** Prefill GEMM shapes (N x K of one layer's matmuls; the LM head runs on the last token only, so it is left out). */
const GEMM_SHAPES: { model: string; name: string; N: number; K: number }[] = [
  { model: 'Qwen2.5-1.5B', name: 'q|k|v', N: 2048, K: 1536 },
  { model: 'Qwen2.5-1.5B', name: 'o', N: 1536, K: 1536 },
  { model: 'Qwen2.5-1.5B', name: 'gate|up', N: 17920, K: 1536 },
  { model: 'Qwen2.5-1.5B', name: 'down', N: 1536, K: 8960 },
  { model: 'Llama-3.2-1B', name: 'q|k|v', N: 3072, K: 2048 },
  { model: 'Llama-3.2-1B', name: 'o', N: 2048, K: 2048 },
  { model: 'Llama-3.2-1B', name: 'gate|up', N: 16384, K: 2048 },
  { model: 'Llama-3.2-1B', name: 'down', N: 2048, K: 8192 },
];
const GEMM_QUICK_SHAPES = [
  { model: 'quick', name: 'a', N: 130, K: 256 },
  { model: 'quick', name: 'b', N: 67, K: 512 },
];

/** Decoder layers of each model, to turn µs per layer into a prefill figure. */
const MODEL_LAYERS: Record<string, number> = { 'Qwen2.5-1.5B': 28, 'Llama-3.2-1B': 16, quick: 1 };

/** tiled: the f32 tiled GEMM; auto: what matmul picks; BMxBNtTMxTNkKB: that tile of the integer-dot GEMM. */
function setGemmVariant(ctx: GpuContext, v: string): void {
  ctx.kernelOverrides = v === 'auto' ? undefined : v === 'tiled' ? { gemm: { use: false } } : { gemm: { use: true, tile: parseGemmTile(v) } };
}

interface Peak {
  /** f32 FMA TFLOP/s (2 flops per fma). */
  fmaTflops: number;
  /** dot4I8Packed, in int8 TOPS (8 ops per dot4: the unit of a GEMM's 2 T N K). */
  dot4Tops: number;
}

/** The f32 FMA and int8 dot4 peaks (shaders/kernelLabPeak.wgsl), best of a few grids. */
async function arithmeticPeaks(ctx: GpuContext, timer: KernelTimer | undefined, quick: boolean): Promise<Peak> {
  const steps = quick ? 4 : 1024;
  const grids = quick ? [8] : [132 * 8, 132 * 32];
  const sink = ctx.createTensor([Math.max(...grids) * 256], 'u32', 'peak.sink');
  const best = { fma: 0, dot4: 0 };
  for (const kind of ['fma', 'dot4'] as const) {
    for (const groups of grids) {
      const call: Call = () =>
        ctx.dispatch(
          { shader: 'kernelLabPeak', defines: { [kind === 'fma' ? 'FMA' : 'DOT4']: true }, layout: ['uniform', 'storage'] },
          [sink],
          [groups],
          params().u32(steps).u32(3).u32(0).u32(0),
        );
      await warmClocks(ctx);
      const t = chosen(await timeBoth(ctx, timer, call, quick ? 2 : 20));
      // 8 chains x 4 steps per round: fma 2 flops, dot4 8 int8 ops.
      const ops = groups * 256 * steps * 32 * (kind === 'fma' ? 2 : 8);
      best[kind] = Math.max(best[kind], ops / t / 1e12);
    }
  }
  ctx.destroyBuffer(sink.buffer);
  return { fmaTflops: best.fma, dot4Tops: best.dot4 };
}

interface GemmRow {
  model: string;
  shape: string;
  dtype: DType;
  T: number;
  N: number;
  K: number;
  variant: string;
  /** µs per call back to back (wall clock / calls), and median of GPU timestamps (null without them). */
  usPerCall: number;
  usKernel: number | null;
  /** 2 T N K / time (kernel time where there are timestamps). */
  tflops: number;
  ofFmaPeak: number;
  ofDot4Peak: number;
  /** Largest |gpu - ref| / Σ|x||w| over the checked outputs. */
  maxRelErr: number;
  /** Integer-dot variants: largest |gpu - ref| / (int8 bound + 1e-5 Σ|x||w|) (at most 1). */
  ofInt8Bound: number | null;
  calls: number;
}

/**
 * The reference on 4 tokens x 4 outputs: for the f32 tiled GEMM |gpu - ref| < 1e-4 Σ|x||w|; for the
 * integer-dot GEMM within its bound Σ_k |w| s / 2 (s = max|x of the block| / 127) + 1e-5 Σ|x||w|.
 */
function validateGemm(
  x: Float32Array,
  w: Uint8Array,
  dtype: DType,
  N: number,
  K: number,
  T: number,
  y: Float32Array,
  int8: boolean,
): { rel: number; ofBound: number | null } {
  const rowBytes = byteSizeOf(dtype, K);
  let rel = 0;
  let ofBound = 0;
  for (const n of new Set([0, 1, N >> 1, N - 1])) {
    const row = dequantize(w.subarray(n * rowBytes, (n + 1) * rowBytes), dtype, K);
    for (const t of new Set([0, 1, T >> 1, T - 1])) {
      let ref = 0;
      let abs = 0;
      let bound = 0;
      for (let b = 0; b < K; b += 32) {
        let m = 0;
        for (let k = b; k < b + 32; k++) m = Math.max(m, Math.abs(x[t * K + k]!));
        for (let k = b; k < b + 32; k++) {
          ref += x[t * K + k]! * row[k]!;
          abs += Math.abs(x[t * K + k]! * row[k]!);
          bound += (Math.abs(row[k]!) * m) / 127 / 2;
        }
      }
      const err = Math.abs(y[t * N + n]! - ref);
      rel = Math.max(rel, err / (abs + 1e-30));
      ofBound = Math.max(ofBound, err / (bound + 1e-5 * abs + 1e-30));
    }
  }
  return { rel, ofBound: int8 ? ofBound : null };
}

/** Times the prefill GEMMs of every dtype, shape, T and variant; prints a table and per-layer sums. */
async function gemmLab(
  ctx: GpuContext,
  timer: KernelTimer | undefined,
  args: Args,
): Promise<{ peak: Peak; gemmRows: GemmRow[]; quantizeRows: Record<string, number>[] }> {
  console.log(
    timer
      ? 'timing: us b2b = wall clock / calls back to back in one pass; us kernel = GPU timestamps, one call per pass, median; TFLOP/s from us kernel'
      : 'timing: wall clock only (no usable timestamps); TFLOP/s from us b2b',
  );
  const peak = await arithmeticPeaks(ctx, timer, args.quick);
  console.log(
    `peaks: f32 FMA ${peak.fmaTflops.toFixed(2)} TFLOP/s, int8 dot4 ${peak.dot4Tops.toFixed(2)} TOPS (shaders/kernelLabPeak.wgsl, 8 independent chains per thread)`,
  );
  const shapes = args.shapes ? args.shapes.map(([N, K]) => ({ model: 'custom', name: `${N}x${K}`, N, K })) : args.quick ? GEMM_QUICK_SHAPES : GEMM_SHAPES;
  const Ts = args.ts ?? (args.quick ? [17, 70] : [512, 4096]);
  const variants = args.variantsGiven ? args.variants : ['tiled', 'auto'];
  const rows: GemmRow[] = [];
  const quantizeRows: Record<string, number>[] = [];
  console.log('dtype     T       N      K variant            us b2b  us kernel   TFLOP/s   %fma  %dot4  max rel err  of int8 bound  calls  shape');
  for (const dtype of args.dtypes) {
    for (const { model, name, N, K } of shapes) {
      if (K % dtypeLayout[dtype].blockElems !== 0) continue;
      const wBytes = randomBlocks(dtype, N * K, N + K);
      const w = ctx.upload(wBytes, [N, K], dtype, `gemm w ${dtype} ${N}x${K}`);
      for (const T of Ts) {
        const x = Float32Array.from({ length: T * K }, (_, i) => Math.sin(i * 0.37) + 0.1);
        const xt = ctx.upload(x, [T, K], 'f32');
        const yt = ctx.createTensor([T, N], 'f32');
        for (const variant of variants) {
          setGemmVariant(ctx, variant);
          const tile = ctx.kernelOverrides?.gemm?.tile;
          const problem = tile && gemmTileProblem(ctx, tile, dtype);
          if (problem) {
            console.log(
              `${dtype.padEnd(5)} ${String(T).padStart(5)} ${String(N).padStart(7)} ${String(K).padStart(6)} ${variant.padEnd(16)} skipped: ${problem}`,
            );
            continue;
          }
          const int8 = variant !== 'tiled' && (ctx.kernelOverrides?.gemm?.use === true || T >= 16);
          matmul(ctx, xt, w, yt);
          const check = validateGemm(x, wBytes, dtype, N, K, T, await ctx.readF32(yt), int8);
          if (int8 ? !(check.ofBound! <= 1) : !(check.rel < 1e-4)) {
            throw new Error(`${dtype} ${N}x${K} T=${T} ${variant}: GPU and CPU reference differ (relative ${check.rel}, of the int8 bound ${check.ofBound})`);
          }
          // As many calls per round as fill about 0.1 s (at least 2), from one call's wall clock.
          const t0 = performance.now();
          matmul(ctx, xt, w, yt);
          await ctx.sync();
          const one = (performance.now() - t0) / 1000;
          const calls = Math.max(2, Math.min(args.iters, Math.ceil(0.1 / one)));
          await warmClocks(ctx);
          const t = await timeBoth(ctx, timer, () => matmul(ctx, xt, w, yt), calls);
          const sec = chosen(t);
          const tflops = (2 * T * N * K) / sec / 1e12;
          const r: GemmRow = {
            model,
            shape: name,
            dtype,
            T,
            N,
            K,
            variant: variant === 'auto' ? `auto(${int8 ? gemmTileName(gemmInt8Tile(ctx)) : 'tiled'})` : variant,
            usPerCall: t.b2b * 1e6,
            usKernel: t.kernel === undefined ? null : t.kernel * 1e6,
            tflops,
            ofFmaPeak: tflops / peak.fmaTflops,
            ofDot4Peak: tflops / peak.dot4Tops,
            maxRelErr: check.rel,
            ofInt8Bound: check.ofBound,
            calls,
          };
          rows.push(r);
          console.log(
            `${dtype.padEnd(5)} ${String(T).padStart(5)} ${String(N).padStart(7)} ${String(K).padStart(6)} ${r.variant.padEnd(16)} ${fmt(r.usPerCall, 1, 9)} ${fmt(r.usKernel, 1, 10)} ${fmt(tflops, 2, 9)} ${fmt(100 * r.ofFmaPeak, 1, 6)} ${fmt(100 * r.ofDot4Peak, 1, 6)}` +
              `     ${check.rel.toExponential(2)} ${fmt(r.ofInt8Bound, 3, 14)} ${String(calls).padStart(6)}  ${model} ${name}`,
          );
        }
        // x quantized alone (part of every integer-dot call above): the first dispatch of the pair.
        if (dtype === args.dtypes[0]) {
          const q = chosen(await timeBoth(ctx, timer, () => releaseX8(ctx, quantizeX8(ctx, xt, T, K)), args.quick ? 2 : 50));
          quantizeRows.push({ T, K, us: q * 1e6 });
          console.log(`quantize x ${T} x ${K}: ${(q * 1e6).toFixed(1)} us`);
        }
        setGemmVariant(ctx, 'auto');
        ctx.destroyBuffer(xt.buffer);
        ctx.destroyBuffer(yt.buffer);
      }
      ctx.destroyBuffer(w.buffer);
    }
  }
  // Per model, T, dtype and variant: the GEMMs of one layer, and all layers' GEMMs as tokens per second.
  console.log('per layer (sum over the shapes above)   model            dtype     T variant            us/layer  TFLOP/s  GEMM-only prefill tok/s');
  const groups = new Map<string, GemmRow[]>();
  for (const r of rows) {
    const k = `${r.model}|${r.dtype}|${r.T}|${r.variant}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  for (const [k, rs] of groups) {
    const [model, dtype, T, variant] = k.split('|') as [string, string, string, string];
    const us = rs.reduce((a, r) => a + (r.usKernel ?? r.usPerCall), 0);
    const flop = rs.reduce((a, r) => a + 2 * r.T * r.N * r.K, 0);
    const tokS = Number(T) / ((us * (MODEL_LAYERS[model] ?? 1)) / 1e6);
    console.log(
      `per layer                               ${model.padEnd(16)} ${dtype.padEnd(5)} ${T.padStart(5)} ${variant.padEnd(16)} ${fmt(us, 1, 10)} ${fmt(flop / us / 1e6, 2, 8)} ${fmt(tokS, 0, 12)}`,
    );
  }
  setGemmVariant(ctx, 'auto');
  return { peak, gemmRows: rows, quantizeRows };
}

/** MoE expert shapes (one layer's routed experts; DeepSeek-V2-Lite's 2 shared experts run as one expert of 2 x 1408). */
const MOE_SHAPES = [
  { model: 'Qwen3-30B-A3B', name: 'experts', H: 2048, I: 768, E: 128, k: 8, layers: 48 },
  { model: 'DeepSeek-V2-Lite', name: 'experts', H: 2048, I: 1408, E: 64, k: 6, layers: 26 },
  { model: 'DeepSeek-V2-Lite', name: 'shared', H: 2048, I: 2816, E: 1, k: 1, layers: 26 },
];
const MOE_QUICK_SHAPES = [{ model: 'quick', name: 'experts', H: 256, I: 256, E: 4, k: 2, layers: 1 }];

/**
 * grouped: the f32 grouped kernels; int8: the integer-dot grouped GEMMs (default tile, over the work list);
 * int8grid: the same over the grid of every expert's row tiles; a tile name (+ "grid"): that tile.
 */
function setMoeVariant(ctx: GpuContext, v: string): void {
  const grid = v.endsWith('grid');
  const t = grid ? v.slice(0, -4) : v;
  const tile = t === 'grouped' || t === 'int8' ? undefined : parseGemmTile(t);
  ctx.kernelOverrides = { moeGemm: { use: v !== 'grouped', ...(grid ? { worklist: false } : {}), ...(tile ? { tile } : {}) } };
}

interface MoeRow {
  model: string;
  shape: string;
  dtype: DType;
  T: number;
  H: number;
  I: number;
  E: number;
  k: number;
  /** The --variants entry, and what ran: the tile (or f32) of gate|up / down. */
  arg: string;
  variant: string;
  usPerCall: number;
  usKernel: number | null;
  tflops: number;
  ofFmaPeak: number;
  ofDot4Peak: number;
  /** Largest |gpu - ref| / max |ref| over the checked tokens' output rows. */
  maxRelErr: number;
  calls: number;
}

/**
 * Times moeExperts (the grouped prefill path) on random weights and routing, per dtype, shape, T and variant;
 * each variant is first checked on 3 tokens' output rows against the CPU reference over the dequantized
 * experts: within 1e-3 of the row's largest value for grouped (f32), 5e-2 for int8 (int8 activations twice).
 */
async function moeLab(ctx: GpuContext, timer: KernelTimer | undefined, args: Args): Promise<{ peak: Peak; moeRows: MoeRow[] }> {
  console.log(
    timer
      ? 'timing: us b2b = wall clock / calls back to back in one pass; us kernel = GPU timestamps, one call per pass, median; TFLOP/s from us kernel'
      : 'timing: wall clock only (no usable timestamps); TFLOP/s from us b2b',
  );
  const peak = await arithmeticPeaks(ctx, timer, args.quick);
  console.log(`peaks: f32 FMA ${peak.fmaTflops.toFixed(2)} TFLOP/s, int8 dot4 ${peak.dot4Tops.toFixed(2)} TOPS`);
  const shapes = args.quick ? MOE_QUICK_SHAPES : MOE_SHAPES;
  const Ts = args.ts ?? (args.quick ? [17] : [512, 4096]);
  const variants = args.variantsGiven ? args.variants : ['grouped', 'int8'];
  const rows: MoeRow[] = [];
  console.log('dtype     T     H     I    E  k variant                          us b2b  us kernel   TFLOP/s   %fma  %dot4  max rel err  calls  model shape');
  for (const dtype of args.dtypes) {
    for (const { model, name, H, I, E, k } of shapes) {
      const guBytes = randomBlocks(dtype, E * 2 * I * H, H + I + E);
      const dnBytes = randomBlocks(dtype, E * H * I, H + 2 * I + E);
      const experts = {
        gateUp: ctx.upload(guBytes, [E, 2 * I, H], dtype, `moe gateUp ${dtype}`),
        down: ctx.upload(dnBytes, [E, H, I], dtype, `moe down ${dtype}`),
      };
      const dq = new Map<number, { gu: Float32Array; dn: Float32Array }>();
      const expert = (e: number) => {
        let d = dq.get(e);
        if (!d) {
          const gb = byteSizeOf(dtype, 2 * I * H);
          const db = byteSizeOf(dtype, H * I);
          d = {
            gu: dequantize(guBytes.subarray(e * gb, (e + 1) * gb), dtype, 2 * I * H),
            dn: dequantize(dnBytes.subarray(e * db, (e + 1) * db), dtype, H * I),
          };
          dq.set(e, d);
        }
        return d;
      };
      for (const T of Ts) {
        const x = Float32Array.from({ length: T * H }, (_, i) => Math.sin(i * 0.37) + 0.1);
        const route = randomRouting(T, E, k, T + E);
        const xt = ctx.upload(x, [T, H], 'f32');
        const ids = ctx.upload(route.ids, [T, k], 'u32');
        const wts = ctx.upload(route.weights, [T, k], 'f32');
        const out = ctx.createTensor([T, H], 'f32');
        const call = () => moeExperts(ctx, xt, ids, wts, experts, out, 'silu', { path: 'grouped' });
        for (const variant of variants) {
          setMoeVariant(ctx, variant);
          const tile = ctx.kernelOverrides?.moeGemm?.tile;
          const problem = tile && gemmTileProblem(ctx, tile, dtype);
          if (problem) {
            console.log(`${dtype.padEnd(5)} ${String(T).padStart(5)} ${variant} skipped: ${problem}`);
            continue;
          }
          const plan = moeInt8Plan(ctx, experts, T);
          const how = ctx.kernelOverrides?.moeGemm?.worklist === false ? ' grid' : ' list';
          const label =
            variant === 'grouped'
              ? 'grouped(f32)'
              : `${plan.gateUp ? gemmTileName(moeGemmInt8Tile(ctx)) : 'f32'}/${plan.down ? gemmTileName(moeGemmInt8Tile(ctx)) : 'f32'}${how}`;
          call();
          const got = await ctx.readF32(out);
          let err = 0;
          for (const t of new Set([0, T >> 1, T - 1])) {
            const ref = new Float64Array(H);
            for (let j = 0; j < k; j++) {
              const e = route.ids[t * k + j]!;
              const { gu, dn } = expert(e);
              const a = new Float64Array(I);
              for (let i = 0; i < I; i++) {
                let g = 0;
                let u = 0;
                for (let h = 0; h < H; h++) {
                  g += gu[i * H + h]! * x[t * H + h]!;
                  u += gu[(I + i) * H + h]! * x[t * H + h]!;
                }
                a[i] = activate(g, u, 'silu');
              }
              for (let h = 0; h < H; h++) {
                let v = 0;
                for (let i = 0; i < I; i++) v += dn[h * I + i]! * a[i]!;
                ref[h] = ref[h]! + route.weights[t * k + j]! * v;
              }
            }
            const scale = Math.max(...Array.from(ref, Math.abs)) + 1e-30;
            for (let h = 0; h < H; h++) err = Math.max(err, Math.abs(got[t * H + h]! - ref[h]!) / scale);
          }
          if (!(err < (variant === 'grouped' ? 1e-3 : 5e-2)))
            throw new Error(`${dtype} ${model} ${name} T=${T} ${variant}: GPU and CPU reference differ (relative ${err})`);
          const t0 = performance.now();
          call();
          await ctx.sync();
          const one = (performance.now() - t0) / 1000;
          const calls = Math.max(2, Math.min(args.iters, Math.ceil(0.1 / one)));
          await warmClocks(ctx);
          const t = await timeBoth(ctx, timer, call, calls);
          const sec = chosen(t);
          const tflops = (2 * T * k * 3 * I * H) / sec / 1e12;
          const r: MoeRow = {
            model,
            shape: name,
            dtype,
            T,
            H,
            I,
            E,
            k,
            arg: variant,
            variant: label,
            usPerCall: t.b2b * 1e6,
            usKernel: t.kernel === undefined ? null : t.kernel * 1e6,
            tflops,
            ofFmaPeak: tflops / peak.fmaTflops,
            ofDot4Peak: tflops / peak.dot4Tops,
            maxRelErr: err,
            calls,
          };
          rows.push(r);
          console.log(
            `${dtype.padEnd(5)} ${String(T).padStart(5)} ${String(H).padStart(5)} ${String(I).padStart(5)} ${String(E).padStart(4)} ${String(k).padStart(2)} ${label.padEnd(30)} ${fmt(r.usPerCall, 1, 9)} ${fmt(r.usKernel, 1, 10)} ${fmt(tflops, 2, 9)} ${fmt(100 * r.ofFmaPeak, 1, 6)} ${fmt(100 * r.ofDot4Peak, 1, 6)}` +
              `     ${err.toExponential(2)} ${String(calls).padStart(6)}  ${model} ${name}`,
          );
        }
        for (const b of [xt, ids, wts, out]) ctx.destroyBuffer(b.buffer);
      }
      ctx.destroyBuffer(experts.gateUp.buffer);
      ctx.destroyBuffer(experts.down.buffer);
    }
  }
  // Per model, dtype, T and variant: one layer's expert calls, and all MoE layers' as tokens per second.
  console.log('per layer (experts only)   model              dtype     T variant                     us/layer  TFLOP/s  experts-only prefill tok/s');
  const byKey = new Map<string, MoeRow[]>();
  for (const r of rows) {
    const key = `${r.model}|${r.dtype}|${r.T}|${r.arg}`;
    byKey.set(key, [...(byKey.get(key) ?? []), r]);
  }
  for (const [key, rs] of byKey) {
    const [model, dtype, T, variant] = key.split('|') as [string, string, string, string];
    const us = rs.reduce((a, r) => a + (r.usKernel ?? r.usPerCall), 0);
    const flop = rs.reduce((a, r) => a + 2 * r.T * r.k * 3 * r.I * r.H, 0);
    const layers = MOE_SHAPES.find((m) => m.model === model)?.layers ?? 1;
    console.log(
      `per layer                  ${model.padEnd(18)} ${dtype.padEnd(5)} ${T.padStart(5)} ${variant.padEnd(26)} ${fmt(us, 1, 10)} ${fmt(flop / us / 1e6, 2, 8)} ${fmt(Number(T) / ((us * layers) / 1e6), 0, 12)}`,
    );
  }
  ctx.kernelOverrides = undefined;
  return { peak, moeRows: rows };
}
