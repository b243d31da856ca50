// The decode GEMVs' input, included by matmulGemvQuant and matmulGemvInt8 (which bind `x` as array<vec4<f32>> and have
// the row length in `p.K`): vec4 v of x itself, or with GLU silu(gate) * up of x = [gate | up] (K values each),
// or with X_NORM (matmulGemvInt8) x normalised by the workgroup's inv_rms and the norm weight, or with X_MERGE
// (matmulGemvInt8) x as the workgroup merged it from a decode attention's chunks.
fn x_at(v: u32) -> vec4<f32> {
#if GLU
  let g = x[v];
  return g / (1.0 + exp(-g)) * x[v + p.K / 4u];
#elif X_NORM
  return x[v] * inv_rms * (norm_w[p.nw_off + v - p.x_off] + p.w_offset);
#elif X_MERGE
  return xm[v - p.x_off];
#else
  return x[v];
#endif
}
