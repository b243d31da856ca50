import { describe, expect, it } from 'vitest';
import { blockMs, PollThrottle, type LoopHooks } from '../../src/gpu/pollThrottle.js';
import { gpu } from '../helpers/gpu.js';

/** A loop run by hand: `turn()` runs what was queued for the next turn, after `advance` ms of clock. */
function manualLoop() {
  let t = 0;
  let queued: (() => void)[] = [];
  const blocks: number[] = [];
  const hooks: LoopHooks = {
    now: () => t,
    block: (ms) => {
      blocks.push(ms);
      t += ms;
    },
    nextTurn: (fn) => void queued.push(fn),
  };
  const turn = (advance: number) => {
    t += advance;
    const run = queued;
    queued = [];
    for (const fn of run) fn();
  };
  return { hooks, blocks, turn, queued: () => queued.length };
}

const deferred = <T>() => {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => ((resolve = a), (reject = b)));
  return { promise, resolve, reject };
};

describe('PollThrottle', () => {
  it('blocks a turn 1% of the time waited, from 0.05 ms up to 1 ms', () => {
    expect(blockMs(0)).toBe(0);
    expect(blockMs(4.9)).toBe(0);
    expect(blockMs(5)).toBeCloseTo(0.05);
    expect(blockMs(40)).toBeCloseTo(0.4);
    expect(blockMs(100)).toBe(1);
    expect(blockMs(60_000)).toBe(1);
  });

  it('turns freely at first, blocks more as a wait goes on, and stops turning once it settles', async () => {
    const loop = manualLoop();
    const throttle = new PollThrottle(loop.hooks);
    const d = deferred<string>();
    const waited = throttle.during(d.promise);
    expect(throttle.pending).toBe(1);
    loop.turn(2);
    expect(loop.blocks).toEqual([]);
    loop.turn(8); // 10 ms in
    expect(loop.blocks).toHaveLength(1);
    expect(loop.blocks[0]).toBeCloseTo(0.1);
    loop.turn(490); // 500.1 ms in
    expect(loop.blocks[1]).toBe(1);
    d.resolve('mapped');
    await expect(waited).resolves.toBe('mapped');
    expect(throttle.pending).toBe(0);
    loop.turn(1); // the last turn sees nothing pending and queues no other
    expect(loop.queued()).toBe(0);
    expect(loop.blocks).toHaveLength(2);
  });

  it('takes the youngest of overlapping waits, and passes a rejection through', async () => {
    const loop = manualLoop();
    const throttle = new PollThrottle(loop.hooks);
    const old = deferred<number>();
    const first = throttle.during(old.promise);
    loop.turn(300);
    expect(loop.blocks).toEqual([1]);
    loop.blocks.length = 0;
    const young = deferred<number>();
    const second = throttle.during(young.promise);
    loop.turn(2); // the young wait is 2 ms old: no block, although the old one is 302
    expect(loop.blocks).toEqual([]);
    expect(loop.queued()).toBe(1); // one turn queued for both waits
    old.reject(new Error('device lost'));
    await expect(first).rejects.toThrow('device lost');
    expect(throttle.pending).toBe(1);
    loop.turn(48);
    expect(loop.blocks[0]).toBeCloseTo(0.5);
    young.resolve(3);
    await expect(second).resolves.toBe(3);
    loop.turn(0);
    expect(loop.queued()).toBe(0);
  });

  it('throttles real reads: the bytes come back and no wait is left pending', async () => {
    const ctx = await gpu();
    const before = ctx.pollThrottle;
    const throttle = new PollThrottle();
    ctx.pollThrottle = throttle;
    try {
      const t = ctx.upload(new Float32Array([1.5, -2, 3.25]), [3], 'f32');
      const reads = await Promise.all([ctx.read(t), ctx.read(t, 8)]);
      expect([...new Float32Array(reads[0]!)]).toEqual([1.5, -2, 3.25]);
      expect([...new Float32Array(reads[1]!)]).toEqual([1.5, -2]);
      await ctx.sync();
      expect(throttle.pending).toBe(0);
    } finally {
      ctx.pollThrottle = before;
    }
  });
});
