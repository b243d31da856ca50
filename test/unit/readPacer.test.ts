import { describe, expect, it } from 'vitest';
import { ReadPacer } from '../../src/gpu/readPacer.js';
import { gpu } from '../helpers/gpu.js';

describe('ReadPacer', () => {
  it('maps at once until it has seen a step', () => {
    expect(new ReadPacer().delayMs()).toBe(0);
  });

  it('waits 80% of the fastest recent step less a millisecond, ignoring the first step that waited for a prompt', () => {
    const p = new ReadPacer();
    p.observe(1200); // asked for while the prompt ran
    for (const ms of [8.1, 8.0, 8.3]) p.observe(ms);
    expect(p.delayMs()).toBe(Math.floor(0.8 * 8.0 - 1));
    // A faster step is followed at once; a step too short for the timer maps at once.
    p.observe(2.2);
    expect(p.delayMs()).toBe(0);
    // Slower steps count once the faster ones have left the last eight.
    for (let i = 0; i < 8; i++) p.observe(12);
    expect(p.delayMs()).toBe(Math.floor(0.8 * 12 - 1));
  });

  it('ignores timings that are not positive and forgets all on reset', () => {
    const p = new ReadPacer();
    p.observe(0);
    p.observe(Number.NaN);
    p.observe(-3);
    expect(p.delayMs()).toBe(0);
    p.observe(20);
    expect(p.delayMs()).toBe(15);
    p.reset();
    expect(p.delayMs()).toBe(0);
  });

  it('paces a real read: the bytes are right after the wait, and the time it took is learned', async () => {
    const ctx = await gpu();
    const seen: number[] = [];
    const pacer = new (class extends ReadPacer {
      override observe(ms: number) {
        seen.push(ms);
        super.observe(ms);
      }
    })();
    const before = ctx.readPacer;
    ctx.readPacer = pacer;
    try {
      const t = ctx.upload(new Uint32Array([7, 11, 13, 17]), [4], 'u32');
      for (let i = 0; i < 3; i++) expect([...new Uint32Array(await ctx.read(t, 16, true))]).toEqual([7, 11, 13, 17]);
      expect(seen).toHaveLength(3);
      expect(seen.every((ms) => ms > 0)).toBe(true);
      expect(pacer.delayMs()).toBe(Math.max(0, Math.floor(0.8 * Math.min(...seen) - 1)));
      // Reads without a pace are not timed and not delayed.
      expect([...new Uint32Array(await ctx.read(t, 8))]).toEqual([7, 11]);
      expect(seen).toHaveLength(3);
    } finally {
      ctx.readPacer = before;
    }
  });
});
