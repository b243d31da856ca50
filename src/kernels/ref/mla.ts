/** Interleaved RoPE of pairs (2i, 2i + 1) of x at position pos, in place. */
function ropeInterleaved(x: Float32Array, pos: number, invFreq: Float32Array, factor: number): void {
  for (let j = 0; j < invFreq.length; j++) {
    const th = Math.fround(pos * invFreq[j]!);
    const c = Math.cos(th) * factor;
    const s = Math.sin(th) * factor;
    const a = x[2 * j]!;
    const b = x[2 * j + 1]!;
    x[2 * j] = a * c - b * s;
    x[2 * j + 1] = b * c + a * s;
  }
}

/** Cache rows [capacity, R + P] after writing ckv [T, R + P] at `positions`. */
export function mlaLatentRef(
  ckv: Float32Array,
  T: number,
  R: number,
  P: number,
  normW: Float32Array,
  positions: Uint32Array,
  invFreq: Float32Array,
  cache: Float32Array,
  capacity: number,
  eps: number,
  factor = 1,
): Float32Array {
  const out = cache.slice();
  const D = R + P;
  for (let t = 0; t < T; t++) {
    const row = ckv.slice(t * D, (t + 1) * D);
    let ss = 0;
    for (let i = 0; i < R; i++) ss += row[i]! * row[i]!;
    const inv = 1 / Math.sqrt(ss / R + eps);
    const pe = row.slice(R);
    ropeInterleaved(pe, positions[t]!, invFreq, factor);
    const dst = (positions[t]! % capacity) * D;
    for (let i = 0; i < R; i++) out[dst + i] = normW[i]! * row[i]! * inv;
    out.set(pe, dst + R);
  }
  return out;
}

/** q_full [T, nH, R + P] from q [T, nH, nope + P] and qLat [T, nH, R]. */
export function mlaQueryRef(
  q: Float32Array,
  qLat: Float32Array,
  T: number,
  nH: number,
  R: number,
  P: number,
  nope: number,
  positions: Uint32Array,
  invFreq: Float32Array,
  factor = 1,
): Float32Array {
  const out = new Float32Array(T * nH * (R + P));
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nH; h++) {
      const th = t * nH + h;
      const pe = q.slice(th * (nope + P) + nope, (th + 1) * (nope + P));
      ropeInterleaved(pe, positions[t]!, invFreq, factor);
      out.set(qLat.subarray(th * R, (th + 1) * R), th * (R + P));
      out.set(pe, th * (R + P) + R);
    }
  }
  return out;
}
