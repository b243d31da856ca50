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

/**
 * The naive prefill's expansion from cache rows [capacity, R + P] and kv [S, nH, nope + v] (c · kv_b_projᵀ):
 * c [S, R], k [S, nH, nope + P] = [kv[.., :nope], k_pe], v [S, nH, v] = kv[.., nope:].
 */
export function mlaExpandRef(
  cache: Float32Array,
  kv: Float32Array,
  S: number,
  R: number,
  P: number,
  nH: number,
  nope: number,
  vDim: number,
): { c: Float32Array; k: Float32Array; v: Float32Array } {
  const c = new Float32Array(S * R);
  const k = new Float32Array(S * nH * (nope + P));
  const v = new Float32Array(S * nH * vDim);
  for (let s = 0; s < S; s++) {
    c.set(cache.subarray(s * (R + P), s * (R + P) + R), s * R);
    for (let h = 0; h < nH; h++) {
      const row = kv.subarray((s * nH + h) * (nope + vDim), (s * nH + h + 1) * (nope + vDim));
      k.set(row.subarray(0, nope), (s * nH + h) * (nope + P));
      k.set(cache.subarray(s * (R + P) + R, (s + 1) * (R + P)), (s * nH + h) * (nope + P) + nope);
      v.set(row.subarray(nope), (s * nH + h) * vDim);
    }
  }
  return { c, k, v };
}

/** q [T, nH, nope + P] with interleaved RoPE on the last P values of every head (the naive prefill's query). */
export function mlaRopeQueryRef(
  q: Float32Array,
  T: number,
  nH: number,
  nope: number,
  P: number,
  positions: Uint32Array,
  invFreq: Float32Array,
  factor = 1,
): Float32Array {
  const out = q.slice();
  for (let th = 0; th < T * nH; th++) {
    const pe = out.slice(th * (nope + P) + nope, (th + 1) * (nope + P));
    ropeInterleaved(pe, positions[Math.floor(th / nH)]!, invFreq, factor);
    out.set(pe, th * (nope + P) + nope);
  }
  return out;
}
