// Timing of the kernel labs (bench/kernelLab*.ts, moeDecodeLab.ts, subgroupMatrixLab.ts): calls recorded back
// to back in one compute pass and one submit, the median of several rounds.
import type { GpuContext } from '../src/gpu/context.js';

/** Rounds of `iters` calls per figure; the median round is reported (isolated slow rounds happen on the GPU machine). */
export const ROUNDS = 5;

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/**
 * Seconds per call of `record(i)` (i picks the inputs: a weight copy, a routing), timed as `iters` calls back
 * to back in one compute pass and one submit, after a call that compiles and a round that warms the same
 * uniform slots and bind groups: the median of `rounds` rounds.
 */
export async function timeB2b(ctx: GpuContext, record: (i: number) => void, iters: number, rounds = ROUNDS): Promise<number> {
  record(0);
  await ctx.sync();
  for (let i = 0; i < iters; i++) record(i);
  await ctx.sync();
  const times: number[] = [];
  for (let k = 0; k < rounds; k++) {
    for (let i = 0; i < iters; i++) record(i);
    const t0 = performance.now();
    await ctx.sync();
    times.push((performance.now() - t0) / 1000 / iters);
  }
  return median(times);
}
