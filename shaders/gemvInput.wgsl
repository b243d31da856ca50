// The decode GEMVs' input, included by gemvQuant and gemvInt8 (which bind `x` as array<vec4<f32>> and have
// the row length in `p.K`): vec4 v of x itself, or with GLU silu(gate) * up of x = [gate | up] (K values each).
fn x_at(v: u32) -> vec4<f32> {
#if GLU
  let g = x[v];
  return g / (1.0 + exp(-g)) * x[v + p.K / 4u];
#else
  return x[v];
#endif
}
