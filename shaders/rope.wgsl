// Rotary position embedding, in place on x [T, nHeads, headStride] f32.
//
// One thread per rotated pair (t, head, i), i < rotaryDim / 2, in a grid-stride loop. The angle is
// f32(position) * invFreq[i] in f32 (as torch computes freqs), cos and sin are scaled by the attention
// factor (YaRN), and the pair is rotated:
//   neox (HF rotate_half):   (x[o + i], x[o + i + half])
//   interleaved (GPT-J):     (x[o + 2i], x[o + 2i + 1])
// with o the first rotated dim of the head. Dims outside [o, o + rotaryDim) are untouched.
//
// MROPE (Qwen2-VL's multimodal rotary): positions hold 3 rows (t, h, w), row r of token t at
// r * pos_stride + t, and pair i takes its position from row 0 for i < sec0, row 1 for i < sec0 + sec1,
// else row 2 (transformers' mrope_section split of the frequencies). The vision tower's 2-D rotary is the
// same with rows (h, w, w) and the frequencies of one axis twice.
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
  pos_stride: u32, // MROPE: floats from one position row to the next
  sec0: u32,      // MROPE: pairs that rotate by row 0
  sec1: u32,      // MROPE: pairs after those that rotate by row 1 (the rest by row 2)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;              // [T, nHeads, headStride] f32
@group(0) @binding(2) var<storage, ${B_ACCESS}> positions: array<u32>;     // [T] u32; MROPE: [3, pos_stride] u32
@group(0) @binding(3) var<storage, ${C_ACCESS}> inv_freq: array<f32>;      // [rotaryDim / 2] f32

#include "sincos"

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * 256u;
  for (var k = gid.x; k < p.n; k += stride) {
    let i = k % p.half;
    let th = k / p.half; // t * nHeads + head
    let t = th / p.n_heads;
#if MROPE
    let row = select(select(2u, 1u, i < p.sec0 + p.sec1), 0u, i < p.sec0);
    let pos = positions[row * p.pos_stride + t];
#else
    let pos = positions[t];
#endif
    let sc = rope_sincos(f32(pos) * inv_freq[i]) * p.factor;
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
