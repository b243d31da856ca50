import { describe, expect, it } from 'vitest';
import { StopMatcher } from '../../src/engine/stopMatcher.js';

describe('StopMatcher', () => {
  it('stops before a stop string split across pieces and never releases any part of it', () => {
    const m = new StopMatcher(['<END>', 'stop here']);
    const pieces = ['Hello <', 'E', 'N', 'D> more'];
    const released = pieces.map((p) => m.push(p));
    expect(released.map((r) => r.text)).toEqual(['Hello ', '', '', '']);
    expect(released.at(-1)!.stopped).toBe(true);
  });

  it('releases held text once it cannot start a stop string', () => {
    const m = new StopMatcher(['###']);
    expect(m.push('a #').text).toBe('a ');
    expect(m.push('#').text).toBe('');
    expect(m.push('x').text).toBe('##x');
    expect(m.push('tail #').text).toBe('tail ');
    expect(m.flush()).toBe('#');
  });

  it('picks the earliest stop string', () => {
    const m = new StopMatcher(['b', 'abc']);
    expect(m.push('xxabc')).toEqual({ text: 'xx', stopped: true }); // 'abc' starts before 'b'
  });
});
