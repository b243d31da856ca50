import { describe, expect, it } from 'vitest';
import { Mutex } from '../../src/engine/mutex.js';

describe('Mutex', () => {
  it('runs holders one at a time in call order', async () => {
    const m = new Mutex();
    const log: string[] = [];
    const job = async (name: string) => {
      const release = await m.acquire();
      log.push(`${name}+`);
      await new Promise((r) => setTimeout(r, 5));
      log.push(`${name}-`);
      release();
    };
    await Promise.all([job('a'), job('b'), job('c')]);
    expect(log).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
  });
});
