import type { RopeOptions } from '../rope.js';

/**
 * RoPE in place on x [T, nHeads, headStride]: angle f32(pos * invFreq[i]) (as torch computes it in f32),
 * cos and sin in f64 times the attention factor. With `mropeSections`, positions is [3, P] and pair i takes
 * pos from row 0, 1 or 2 by the section it falls in.
 */
export function ropeRef(
  x: Float32Array,
  T: number,
  nHeads: number,
  headStride: number,
  positions: Uint32Array,
  invFreq: Float32Array,
  o: RopeOptions,
): Float32Array {
  const y = x.slice();
  const half = o.rotaryDim / 2;
  const f = o.attentionFactor ?? 1;
  const sec = o.mropeSections;
  const P = sec ? positions.length / 3 : 0;
  const posOf = (t: number, i: number) => (sec ? positions[(i < sec[0] ? 0 : i < sec[0] + sec[1] ? 1 : 2) * P + t]! : positions[t]!);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const base = (t * nHeads + h) * headStride + (o.offset ?? 0);
      for (let i = 0; i < half; i++) {
        const th = Math.fround(posOf(t, i) * invFreq[i]!);
        const c = Math.cos(th) * f;
        const s = Math.sin(th) * f;
        const ia = o.layout === 'neox' ? base + i : base + 2 * i;
        const ib = o.layout === 'neox' ? ia + half : ia + 1;
        const a = x[ia]!;
        const b = x[ib]!;
        y[ia] = a * c - b * s;
        y[ib] = b * c + a * s;
      }
    }
  }
  return y;
}
