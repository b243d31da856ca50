/** y[t, h, :] = W[h] · x[t, h, :] with W [H, B, A] (or [H, A, B] when transposeW). */
export function headMatmulRef(x: Float32Array, w: Float32Array, T: number, H: number, A: number, B: number, transposeW: boolean): Float32Array {
  const y = new Float32Array(T * H * B);
  for (let t = 0; t < T; t++)
    for (let h = 0; h < H; h++)
      for (let b = 0; b < B; b++) {
        let acc = 0;
        for (let a = 0; a < A; a++) acc += (transposeW ? w[(h * A + a) * B + b]! : w[(h * B + b) * A + a]!) * x[(t * H + h) * A + a]!;
        y[(t * H + h) * B + b] = acc;
      }
  return y;
}
