/** Round half to even, as WGSL's round(). */
function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * x [T, K] to int8 per row and block of 32, as shaders/matmulInt8.wgsl's entry quantize does it: s = max|x| / 127,
 * q = round(x * (127 / max|x|)) in f32. Returns q [T, K] and s [T, K / 32].
 */
export function quantizeX8Ref(x: Float32Array, T: number, K: number): { q: Int8Array; s: Float32Array } {
  const q = new Int8Array(T * K);
  const s = new Float32Array((T * K) / 32);
  for (let b = 0; b < (T * K) / 32; b++) {
    let m = 0;
    for (let i = 0; i < 32; i++) m = Math.max(m, Math.abs(x[32 * b + i]!));
    const inv = m > 0 ? Math.fround(127 / m) : 0;
    for (let i = 0; i < 32; i++) q[32 * b + i] = Math.max(-127, Math.min(127, roundEven(Math.fround(x[32 * b + i]! * inv))));
    s[b] = Math.fround(m / 127);
  }
  return { q, s };
}

/** y[T, N] = x̂[T, K] · W[N, K]ᵀ + bias in f64, x̂ = s * q the int8 x of quantizeX8Ref, W dequantized. */
export function matmulInt8Ref(x: Float32Array, w: Float32Array, T: number, N: number, K: number, bias?: Float32Array): Float32Array {
  const { q, s } = quantizeX8Ref(x, T, K);
  const y = new Float32Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let acc = bias ? bias[n]! : 0;
      for (let k = 0; k < K; k++) acc += s[(t * K + k) >> 5]! * q[t * K + k]! * w[n * K + k]!;
      y[t * N + n] = acc;
    }
  }
  return y;
}

/**
 * The error bound of int8 activations per output: each x is within s / 2 of s * q (s = max|x of its
 * block| / 127), so |x̂ · w - x · w| <= Σ_k |W[n, k]| * s(t, k) / 2.
 */
export function int8ActivationBound(x: Float32Array, w: Float32Array, T: number, N: number, K: number): Float32Array {
  const half = new Float32Array((T * K) / 32);
  for (let b = 0; b < half.length; b++) {
    let m = 0;
    for (let i = 0; i < 32; i++) m = Math.max(m, Math.abs(x[32 * b + i]!));
    half[b] = m / 127 / 2;
  }
  const out = new Float32Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += Math.abs(w[n * K + k]!) * half[(t * K + k) >> 5]!;
      out[t * N + n] = acc;
    }
  }
  return out;
}
