// Accurate sin and cos for RoPE angles, included by the rope and MLA shaders. WGSL's sin/cos promise only
// about 2^-11 absolute error (SwiftShader is that coarse), too far from PyTorch's f32 values for 1e-3
// logits: reduce by quadrant with pi/2 split in four parts (exact products without fma, which SwiftShader
// does not fuse) and evaluate Taylor polynomials on |r| <= pi/4.
// (sin a, cos a) for an f32 angle a, accurate to a few f32 ulps for |a| < 2e5.
fn rope_sincos(a: f32) -> vec2<f32> {
  let n = round(a * 0.63661977236758134);
  var r = a - n * 1.5625;
  r = r - n * 0.0081787109375;
  r = r - n * 0.00011730194091796875;
  r = r - n * 3.1391647326017846e-7;
  let r2 = r * r;
  let s = r + r * r2 * (-1.6666666666666666e-1 + r2 * (8.3333333333333332e-3 + r2 * (-1.9841269841269841e-4 + r2 * 2.7557319223985893e-6)));
  let c = 1.0 + r2 * (-0.5 + r2 * (4.1666666666666664e-2 + r2 * (-1.3888888888888889e-3 + r2 * (2.4801587301587302e-5 - r2 * 2.7557319223985888e-7))));
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
