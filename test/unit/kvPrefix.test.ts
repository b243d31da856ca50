import { describe, expect, it } from 'vitest';
import { KvPrefix } from '../../src/engine/kvPrefix.js';

describe('KvPrefix', () => {
  it('reuses the common prefix and always forwards the last prompt token', () => {
    const kv = new KvPrefix();
    kv.forwarded([1, 2, 3, 4], 0);
    kv.forwarded([9], 4);
    expect(kv.reusable([1, 2, 3, 4, 9, 7, 8], 5)).toBe(5);
    expect(kv.reusable([1, 2, 5], 5)).toBe(2);
    expect(kv.reusable([1, 2, 3], 5)).toBe(2);
    expect(kv.reusable([1, 2, 3, 4, 9, 7], 3)).toBe(3); // the model holds fewer positions
    kv.forwarded([6], 2);
    expect(kv.length).toBe(3);
    expect(kv.reusable([1, 2, 6, 0], 3)).toBe(3);
  });
});
