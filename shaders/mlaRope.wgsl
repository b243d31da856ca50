// Accurate sin and cos for RoPE angles. WGSL's sin/cos promise only 2^-11 absolute error (SwiftShader
// and some drivers are that coarse), too far from PyTorch's f32 values for 1e-3 logits: reduce by
// quadrant (Cody-Waite, pi/2 in two parts) and evaluate Taylor polynomials on |r| <= pi/4.
fn rope_sincos(a: f32) -> vec2<f32> {
  let n = round(a * 0.6366197723675814);
  let r = (a - n * 1.5707963705062866) + n * 4.371139000186241e-8;
  let r2 = r * r;
  let s = r * (1.0 + r2 * (-1.6666667e-1 + r2 * (8.3333333e-3 + r2 * (-1.9841270e-4 + r2 * 2.7557319e-6))));
  let c = 1.0 + r2 * (-0.5 + r2 * (4.1666667e-2 + r2 * (-1.3888889e-3 + r2 * (2.4801587e-5 - r2 * 2.7557319e-7))));
  let q = u32(i32(n) & 3);
  if (q == 0u) {
    return vec2<f32>(s, c);
  } else if (q == 1u) {
    return vec2<f32>(c, -s);
  } else if (q == 2u) {
    return vec2<f32>(-s, -c);
  }
  return vec2<f32>(-c, s);
}
