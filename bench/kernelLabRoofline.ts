// The ceilings the kernel lab (bench/kernelLab.ts) compares kernels with: the read-bandwidth roofline
// (shaders/kernelLabBandwidth.wgsl), a plain read of a weight's bytes, and the f32 FMA and int8 dot4 peaks
// (shaders/kernelLabPeak.wgsl).
import type { GpuContext } from '../src/gpu/context.js';
import { params } from '../src/gpu/params.js';
import type { Tensor } from '../src/gpu/tensor.js';
import { timeB2b } from './labTiming.js';
import { bandwidthCall, bandwidthInto, chosen, timeBoth, timeIndependent, warmClocks, type Call, type KernelTimer } from './kernelLabTiming.js';

export interface Roofline {
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

export async function roofline(ctx: GpuContext, timer: KernelTimer | undefined, bytes: number, iters: number): Promise<Roofline> {
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
export async function streamReference(ctx: GpuContext, ws: Tensor[], bytes: number, iters: number): Promise<number> {
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

export interface Peak {
  /** f32 FMA TFLOP/s (2 flops per fma). */
  fmaTflops: number;
  /** dot4I8Packed, in int8 TOPS (8 ops per dot4: the unit of a GEMM's 2 T N K). */
  dot4Tops: number;
}

/** The f32 FMA and int8 dot4 peaks (shaders/kernelLabPeak.wgsl), best of a few grids. */
export async function arithmeticPeaks(ctx: GpuContext, timer: KernelTimer | undefined, quick: boolean): Promise<Peak> {
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
