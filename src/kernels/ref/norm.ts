/** RMSNorm over rows of H = w.length: x * 1/sqrt(mean(x²) + eps) * (w + weightOffset), in f64. */
export function rmsNormRef(x: Float32Array, w: Float32Array, eps: number, weightOffset = 0): Float32Array {
  const H = w.length;
  const y = new Float32Array(x.length);
  for (let r = 0; r < x.length / H; r++) {
    let ss = 0;
    for (let i = 0; i < H; i++) ss += x[r * H + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / H + eps);
    for (let i = 0; i < H; i++) y[r * H + i] = x[r * H + i]! * inv * (w[i]! + weightOffset);
  }
  return y;
}

/** residual + delta (rounded to f32, as the GPU stores it) and the RMSNorm of that sum. */
export function addRmsNormRef(
  residual: Float32Array,
  delta: Float32Array,
  w: Float32Array,
  eps: number,
  weightOffset = 0,
): { residual: Float32Array; y: Float32Array } {
  const sum = residual.map((v, i) => v + delta[i]!);
  return { residual: sum, y: rmsNormRef(sum, w, eps, weightOffset) };
}

/** LayerNorm over rows of H = w.length: (x - mean) / sqrt(var + eps) * w + b, biased variance, in f64. */
export function layerNormRef(x: Float32Array, w: Float32Array, b: Float32Array | undefined, eps: number): Float32Array {
  const H = w.length;
  const y = new Float32Array(x.length);
  for (let r = 0; r < x.length / H; r++) {
    let mean = 0;
    for (let i = 0; i < H; i++) mean += x[r * H + i]!;
    mean /= H;
    let v = 0;
    for (let i = 0; i < H; i++) v += (x[r * H + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / H + eps);
    for (let i = 0; i < H; i++) y[r * H + i] = (x[r * H + i]! - mean) * inv * w[i]! + (b ? b[i]! : 0);
  }
  return y;
}
