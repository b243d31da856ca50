// The decode GEMV sweep of the kernel lab (bench/kernelLab.ts): T = 1 (and 256 with --prefill) on real model
// shapes, each variant checked against the CPU reference then timed against the read roofline; and the decode
// chain norm -> GEMV (--chain).
import type { GpuContext } from '../src/gpu/context.js';
import type { GemvOverrides } from '../src/gpu/kernelOverrides.js';
import { byteSizeOf, type DType, type Tensor } from '../src/gpu/tensor.js';
import { matmul } from '../src/kernels/matmul.js';
import { addRmsNorm } from '../src/kernels/norm.js';
import { createXPlanes, encodeXPlanes } from '../src/kernels/xPlanes.js';
import { dequantize } from '../src/weights/quant/index.js';
import type { Args } from './kernelLabArgs.js';
import { roofline, streamReference, type Roofline } from './kernelLabRoofline.js';
import { chosen, fmt, timeBoth, timeIndependent, warmClocks, type KernelTimer } from './kernelLabTiming.js';
import { randomBlocks } from './labRandom.js';
import { timeB2b } from './labTiming.js';

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

/** Weight copies rotated over: at least this many bytes between two reads of one copy (the H100's L2 is 50 MB). */
const ROTATE_BYTES = 256 << 20;
const ROTATE_MAX_BYTES = 1.2e9;

/** Weight copies to rotate over, so that a call finds its weights in DRAM rather than in L2; never more than the calls of one round. */
function copyCount(weightBytes: number, iters: number): number {
  const wanted = Math.min(Math.ceil(ROTATE_BYTES / weightBytes), Math.floor(ROTATE_MAX_BYTES / weightBytes), iters);
  return Math.max(2, wanted);
}

export interface GemvRow {
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

/** The decode GEMV shapes of a run: --shapes, else the quick or the full set. */
export function gemvShapes(args: Args): [number, number][] {
  return args.shapes ?? (args.quick ? QUICK_SHAPES : DECODE_SHAPES);
}

/** The read roofline, then every dtype, shape, T and variant of the decode GEMVs against it; prints a table. */
export async function gemvLab(ctx: GpuContext, timer: KernelTimer | undefined, note: string, args: Args): Promise<{ roofline: Roofline; rows: GemvRow[] }> {
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
  const rows: GemvRow[] = [];
  const shapes = gemvShapes(args);
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
          const r: GemvRow = {
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
  return { roofline: roof, rows };
}

/**
 * The decode pattern norm -> GEMV, b2b: addRmsNorm then matmul, each pair depending on the one before, with
 * the norm writing x in planes for the GEMV or the GEMV encoding x itself; and the norm alone both ways.
 */
export async function timeChains(ctx: GpuContext, args: Args, shapes: [number, number][]): Promise<Record<string, number | string>[]> {
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
export function gemvVariant(v: string): GemvOverrides {
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
