// Timing of the kernel lab (bench/kernelLab.ts) beyond bench/labTiming.ts's back to back: GPU timestamps
// around single calls, independent calls, the clock warm-up before a measurement, and the table cells.
import type { GpuContext } from '../src/gpu/context.js';
import { params } from '../src/gpu/params.js';
import type { Tensor } from '../src/gpu/tensor.js';
import { median, ROUNDS, timeB2b } from './labTiming.js';

/** One call of the timed work; `i` picks the weight copy. */
export type Call = (i: number) => void;

/**
 * Keeps the GPU busy reading memory for `ms` before a measurement, so that it is measured at the clocks it
 * runs at under load rather than those it drops to while the CPU prepares the next case.
 */
export async function warmClocks(ctx: GpuContext, ms = warmMs): Promise<void> {
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

/** The warm-up of warmClocks: 0 leaves it out (--quick, SwiftShader). */
export function setWarmMs(ms: number): void {
  warmMs = ms;
}

/**
 * Seconds per call with no dependency between calls: each call writes a buffer never used before, so
 * Dawn records no barrier between the dispatches (a buffer's first use needs no transition, and lazy
 * clearing is off) and the GPU may overlap one call's tail with the next one's start. This is the kernel's
 * streaming rate, free of the per-dispatch floor that a chain of dependent dispatches pays.
 */
export async function timeIndependent(ctx: GpuContext, record: (i: number, out: Tensor) => void, outElems: number, iters: number): Promise<number> {
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
export class KernelTimer {
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
export interface Timing {
  b2b: number;
  kernel: number | undefined;
}

export async function timeBoth(ctx: GpuContext, timer: KernelTimer | undefined, record: Call, iters: number): Promise<Timing> {
  const b2b = await timeB2b(ctx, record, iters);
  return { b2b, kernel: await timer?.time(record, iters) };
}

/** The figure bandwidths and shares are computed from: kernel time when there are timestamps. */
export const chosen = (t: Timing) => t.kernel ?? t.b2b;

/** A kernel timer when the adapter has timestamp queries that look sane, else why not. */
export async function kernelTimer(ctx: GpuContext, probe: Call, iters: number): Promise<{ timer?: KernelTimer; note: string }> {
  if (!ctx.features.timestampQuery) return { note: 'no timestamp-query on this device' };
  const timer = new KernelTimer(ctx, Math.min(Math.max(iters, 16), 2048));
  const problem = await timer.check(probe);
  if (!problem) return { timer, note: 'GPU timestamps, one call per compute pass, median' };
  timer.destroy();
  return { note: `timestamps unusable (${problem})` };
}

/** One call of shaders/kernelLabBandwidth.wgsl: `groups` workgroups read `count` vec4<u32> of `src`. */
export function bandwidthCall(ctx: GpuContext, src: Tensor, sink: Tensor, groups: number, count: number): Call {
  return () => bandwidthInto(ctx, src, sink, groups, count);
}

export function bandwidthInto(ctx: GpuContext, src: Tensor, sink: Tensor, groups: number, count: number): void {
  ctx.dispatch({ shader: 'kernelLabBandwidth', layout: ['uniform', 'read', 'storage'] }, [src, sink], [groups], params().u32(count).u32(0).u32(0).u32(0));
}

/** A table cell: `v` to `digits` decimals, right-aligned in `width` ("-" for null). */
export const fmt = (v: number | null, digits: number, width: number) => (v === null ? '-' : v.toFixed(digits)).padStart(width);
