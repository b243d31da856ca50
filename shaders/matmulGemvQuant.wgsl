// Decode GEMV for Q4_0 and Q8_0 weights stored as GGUF blocks: y[n] = Σ_k x[k] · W[n, k] (+ bias[n]), one
// token (T = 1).
//
// Blocks are 18 (Q4_0) or 34 (Q8_0) bytes, not 4-byte aligned, but a PAIR of blocks is 36 or 68 bytes: a
// whole number of u32 words, aligned when the row starts aligned. A workgroup of 256 threads is G = 256 / L
// groups of L lanes (16 or 32); group g computes R consecutive rows. Lane l walks the pairs l, l + L, ... of the
// row: per pair it loads x (64 values, vec4) once and the pair's words of each of its R rows, so x is
// reused from registers R times and every weight byte is read once, coalesced across the lanes. The R x L
// partial sums meet in workgroup memory and R x G threads add them up.

struct Params {
  N: u32,         // outputs
  K: u32,         // inputs, a multiple of 64
  has_bias: u32,  // 1 when bias is bound with real data
  row_words: u32, // u32 words of one row of W
  w_off: u32,     // word offset of row 0 in w
  x_off: u32,     // vec4 offset of x[0] in x
  y_off: u32,     // element offset of y[0] in y
  b_off: u32,     // element offset of bias[0] in bias
  groups: u32,    // workgroups along N (the grid may be folded onto y)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>; // [K / 4] vec4 f32 ([2K / 4]: gate | up, with GLU)
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [N, K] Q4_0 or Q8_0 blocks, rows word-aligned
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // [N] f32 (ignored when has_bias = 0)
@group(0) @binding(4) var<storage, read_write> y: array<f32>; // [N] f32

const L: u32 = ${L};
const G: u32 = 256u / L;
const R: u32 = ${R};
var<workgroup> partial: array<f32, 256 * ${R}>; // [G * R rows, L lanes]

#if Q4_0
const PAIR_WORDS: u32 = 9u; // 2 x 18 bytes

// Low / high nibbles of the 4 bytes of a word, minus 8.
fn lo4(u: u32) -> vec4<f32> { return vec4<f32>((vec4<u32>(u) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xfu)) - 8.0; }
fn hi4(u: u32) -> vec4<f32> { return vec4<f32>((vec4<u32>(u) >> vec4<u32>(4u, 12u, 20u, 28u)) & vec4<u32>(0xfu)) - 8.0; }

// Dot product of one pair of blocks (words a[0..8]) with x[xb .. xb + 64) (xb in vec4s).
fn pair_dot(a: array<u32, 9>, xv: array<vec4<f32>, 16>) -> f32 {
  let d0 = unpack2x16float(a[0]).x;
  let d1 = unpack2x16float(a[4]).y;
  // Block 0: quants are bytes 2..17, i.e. words shifted by 16 bits.
  var s0 = 0.0;
  for (var j = 0u; j < 4u; j++) {
    let q = (a[j] >> 16u) | (a[j + 1u] << 16u);
    s0 += dot(lo4(q), xv[j]) + dot(hi4(q), xv[4u + j]);
  }
  var s1 = 0.0;
  for (var j = 0u; j < 4u; j++) {
    let q = a[5u + j];
    s1 += dot(lo4(q), xv[8u + j]) + dot(hi4(q), xv[12u + j]);
  }
  return d0 * s0 + d1 * s1;
}
#endif

#if Q8_0
const PAIR_WORDS: u32 = 17u; // 2 x 34 bytes

fn i8x4(u: u32) -> vec4<f32> {
  return vec4<f32>((vec4<i32>(bitcast<i32>(u)) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}

fn pair_dot(a: array<u32, 17>, xv: array<vec4<f32>, 16>) -> f32 {
  let d0 = unpack2x16float(a[0]).x;
  let d1 = unpack2x16float(a[8]).y;
  var s0 = 0.0;
  for (var j = 0u; j < 8u; j++) {
    s0 += dot(i8x4((a[j] >> 16u) | (a[j + 1u] << 16u)), xv[j]);
  }
  var s1 = 0.0;
  for (var j = 0u; j < 8u; j++) {
    s1 += dot(i8x4(a[9u + j]), xv[8u + j]);
  }
  return d0 * s0 + d1 * s1;
}
#endif

#include "matmulGemvInput"

#if X_SHARED
// x staged once per workgroup in workgroup memory, transposed so that the L lanes reading vec4 i of
// their pairs (pairs c * L + lane) touch consecutive addresses: xs[(c * 16 + i) * L + lane].
var<workgroup> xs: array<vec4<f32>, ${XS_VEC4}>;
#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let group = wg.x + wg.y * nwg.x;
  let lane = li % L;
  let g = li / L;
  let row0 = (group * G + g) * R;
  let pairs = p.K / 64u;
  var acc: array<f32, ${R}>;
  for (var r = 0u; r < R; r++) { acc[r] = 0.0; }
#if X_SHARED
  for (var v = li; v < pairs * 16u; v += 256u) {
    let pv = v / 16u;
    xs[((pv / L) * 16u + v % 16u) * L + pv % L] = x_at(p.x_off + v);
  }
  workgroupBarrier();
#endif
  for (var pr = lane; pr < pairs; pr += L) {
    var xv: array<vec4<f32>, 16>;
#if X_SHARED
    for (var i = 0u; i < 16u; i++) { xv[i] = xs[((pr / L) * 16u + i) * L + lane]; }
#else
    for (var i = 0u; i < 16u; i++) { xv[i] = x_at(p.x_off + pr * 16u + i); }
#endif
    for (var r = 0u; r < R; r++) {
      let n = min(row0 + r, p.N - 1u);
      let base = p.w_off + n * p.row_words + pr * PAIR_WORDS;
      var a: array<u32, PAIR_WORDS>;
      for (var i = 0u; i < PAIR_WORDS; i++) { a[i] = w[base + i]; }
      acc[r] += pair_dot(a, xv);
    }
  }
  for (var r = 0u; r < R; r++) { partial[(g * R + r) * L + lane] = acc[r]; }
  workgroupBarrier();
  if (li < G * R) {
    let n = group * G * R + li;
    var s = 0.0;
    for (var i = 0u; i < L; i++) { s += partial[li * L + i]; }
    if (n < p.N && group < p.groups) {
      if (p.has_bias == 1u) { s += bias[p.b_off + n]; }
      y[p.y_off + n] = s;
    }
  }
}
