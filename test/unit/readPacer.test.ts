import { describe, expect, it } from 'vitest';
import { ReadPacer } from '../../src/gpu/readPacer.js';
import { gpu } from '../helpers/gpu.js';

const step = { kind: 'step', units: 1 } as const;
const prompt = (units: number) => ({ kind: 'prompt', units }) as const;

describe('ReadPacer', () => {
  it('maps at once until it has seen a read of the kind', () => {
    const p = new ReadPacer();
    expect(p.delayMs(step)).toBe(0);
    expect(p.delayMs(prompt(512))).toBe(0);
  });

  it('waits 80% of the fastest recent step less a millisecond, ignoring the first step that waited for a prompt', () => {
    const p = new ReadPacer();
    p.observe(step, 1200); // asked for while the prompt ran
    for (const ms of [8.1, 8.0, 8.3]) p.observe(step, ms);
    expect(p.delayMs(step)).toBe(Math.floor(0.8 * 8.0 - 1));
    // A faster step is followed at once; a step too short for the timer maps at once.
    p.observe(step, 2.2);
    expect(p.delayMs(step)).toBe(0);
    // Slower steps count once the faster ones have left the last eight.
    for (let i = 0; i < 8; i++) p.observe(step, 12);
    expect(p.delayMs(step)).toBe(Math.floor(0.8 * 12 - 1));
  });

  it('scales prompts of n to 2n tokens down to the length asked, never up', () => {
    const p = new ReadPacer();
    p.observe(prompt(4096), 1000);
    expect(p.delayMs(prompt(4096))).toBe(Math.floor(0.7 * 1000 - 1));
    expect(p.delayMs(prompt(2048))).toBe(Math.floor(0.7 * 500 - 1));
    expect(p.delayMs(prompt(8192))).toBe(0); // longer than any seen
    expect(p.delayMs(prompt(1000))).toBe(0); // 4,096 is more than twice as long
    p.observe(prompt(1500), 600); // 0.4 ms a token: the 1,000-token prompt scales from it
    expect(p.delayMs(prompt(1000))).toBe(Math.floor(0.7 * 400 - 1));
  });

  it('ignores timings that are not positive and forgets all on reset', () => {
    const p = new ReadPacer();
    p.observe(step, 0);
    p.observe(step, Number.NaN);
    p.observe(prompt(0), 50);
    expect(p.delayMs(step)).toBe(0);
    expect(p.delayMs(prompt(1))).toBe(0);
    p.observe(step, 20);
    p.observe(prompt(64), 40);
    p.reset();
    expect(p.delayMs(step)).toBe(0);
    expect(p.delayMs(prompt(64))).toBe(0);
  });

  it('paces a real read: the bytes are right after the wait, and the time it took is learned', async () => {
    const ctx = await gpu();
    const seen: number[] = [];
    const pacer = new (class extends ReadPacer {
      override observe(pace: Parameters<ReadPacer['observe']>[0], ms: number) {
        seen.push(ms);
        super.observe(pace, ms);
      }
    })();
    const before = ctx.readPacer;
    ctx.readPacer = pacer;
    try {
      const t = ctx.upload(new Uint32Array([7, 11, 13, 17]), [4], 'u32');
      for (let i = 0; i < 3; i++) expect([...new Uint32Array(await ctx.read(t, 16, step))]).toEqual([7, 11, 13, 17]);
      expect(seen).toHaveLength(3);
      expect(seen.every((ms) => ms > 0)).toBe(true);
      expect(pacer.delayMs(step)).toBe(Math.max(0, Math.floor(0.8 * Math.min(...seen) - 1)));
      ctx.readPacer = undefined; // unpaced reads are unchanged
      expect([...new Uint32Array(await ctx.read(t, 8))]).toEqual([7, 11]);
    } finally {
      ctx.readPacer = before;
    }
  });
});
