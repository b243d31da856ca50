// Rotary position embedding, in place on x [T, nHeads, headStride] f32.
//
// One thread per rotated pair (t, head, i), i < rotaryDim / 2, in a grid-stride loop. The angle is
// f32(position) * invFreq[i] in f32 (as torch computes freqs), cos and sin are scaled by the attention
// factor (YaRN), and the pair is rotated:
//   neox (HF rotate_half):   (x[o + i], x[o + i + half])
//   interleaved (GPT-J):     (x[o + 2i], x[o + 2i + 1])
// with o the first rotated dim of the head. Dims outside [o, o + rotaryDim) are untouched.
//
// sin/cos: WGSL promises only ~2^-11 absolute error (SwiftShader and some drivers are that coarse, and
// angles reach 1e5 rad), so the angle is reduced by quadrant (Cody-Waite) and sin/cos are evaluated by
// polynomials on |r| <= pi/4 (error < 1e-8 before f32 rounding). pi/2 is split in 4 parts, the first 3
// short enough that n * Ci is exact and each subtraction exact for n < 2^17 (|angle| < 2e5): no fma
// needed (SwiftShader's fma is not fused).

struct Params {
  n: u32,         // T * nHeads * half: pairs to rotate
  n_heads: u32,
  head_stride: u32,
  half: u32,      // rotaryDim / 2
  offset: u32,    // first rotated dim inside a head
  factor: f32,    // attention factor multiplying cos and sin
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;              // [T, nHeads, headStride] f32
@group(0) @binding(2) var<storage, ${B_ACCESS}> positions: array<u32>;     // [T] u32
@group(0) @binding(3) var<storage, ${C_ACCESS}> inv_freq: array<f32>;      // [rotaryDim / 2] f32

// (sin a, cos a) for an f32 angle a, accurate to a few f32 ulps for |a| < 2e5.
fn sincos(a: f32) -> vec2<f32> {
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

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * 256u;
  for (var k = gid.x; k < p.n; k += stride) {
    let i = k % p.half;
    let th = k / p.half; // t * nHeads + head
    let t = th / p.n_heads;
    let sc = sincos(f32(positions[t]) * inv_freq[i]) * p.factor;
    let base = th * p.head_stride + p.offset;
#if INTERLEAVED
    let ia = base + 2u * i;
    let ib = ia + 1u;
#else
    let ia = base + i;
    let ib = ia + p.half;
#endif
    let a = x[ia];
    let b = x[ib];
    x[ia] = a * sc.y - b * sc.x;
    x[ib] = b * sc.y + a * sc.x;
  }
}
