/** y[T, N] = x[T, K] · W[N, K]ᵀ + bias[N], in f64 accumulation. */
export function matmulRef(x: Float32Array, w: Float32Array, T: number, N: number, K: number, bias?: Float32Array): Float32Array {
  const y = new Float32Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let acc = bias ? bias[n]! : 0;
      for (let k = 0; k < K; k++) acc += x[t * K + k]! * w[n * K + k]!;
      y[t * N + n] = acc;
    }
  }
  return y;
}

/** Per output, Σ_k |x[t, k]| |W[n, k]|: the scale that float rounding errors are relative to. */
export function matmulAbsScale(x: Float32Array, w: Float32Array, T: number, N: number, K: number): Float32Array {
  const s = new Float32Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += Math.abs(x[t * K + k]! * w[n * K + k]!);
      s[t * N + n] = acc;
    }
  }
  return s;
}
