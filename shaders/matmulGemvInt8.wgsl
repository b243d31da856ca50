// Decode GEMV on integer dot products: y[n] = Σ_k x[k] · W[n, k] (+ bias[n]) for one token (T = 1), W in
// Q4_0, Q8_0 or Q4_K GGUF blocks as stored.
//
// x is re-encoded once per workgroup, chunk by chunk of KC values, into workgroup memory as 16-bit fixed
// point per block of 32: a scale s = max|x| / 127 and two int8 planes hi = round(x / s),
// lo = round((x / s - hi) * 254), so x = s * (hi + lo / 254) within s / 508 (1 / 64516 of the block's
// largest value; finer than f16). Each weight word (4 int8 quants, or 8 nibbles as two words of 4) then
// meets x through dot4I8Packed (one DP4A per 4 products on GPUs that have it), and the block's Σx (exact,
// f32) carries the Q4_0 zero point (8) and the Q4_K mins.
//
// X_NORM (with ENCODE_ONCE): x is RMSNorm(x) * (norm_w + offset), the norm computed by each workgroup before it
// encodes x (the decode step's norm fused into the GEMV that reads it). ACCUMULATE: y += W·x instead of
// y = W·x (the residual add fused into the GEMV that writes the residual's update).
//
// X_MERGE (with ENCODE_ONCE): x is a decode attention's output left as its chunks' partial results
// (src/kernels/attention.ts DecodeParts), merged by the workgroup into workgroup memory before it is encoded:
// the attention's merge dispatch folded into its output projection.
//
// X_PLANES: x comes already in planes (written by the norm before the GEMV, shaders/xPlanes.wgsl) and each
// lane reads its units' planes from global memory: no encoding, no workgroup memory for x, no barrier.
//
// Work unit: 64 values of a row (a pair of Q4_0 / Q8_0 blocks, 36 / 68 bytes, word-aligned; or a quarter
// of a Q4_K super-block: 32 quant bytes plus its 16-byte header). A workgroup of 256 threads is G = 256 / L
// groups of L lanes; group g computes R consecutive rows; lane l takes the units l, l + L, ... of the chunk,
// loads their x once into registers and reuses it for its R rows (the R rows' words are all loaded before
// the arithmetic). The R x L partial sums meet in workgroup memory at the end. A workgroup takes
// blocks of G * R rows strided by the workgroups launched, encoding x once when it fits in one chunk.

struct Params {
  N: u32,         // outputs
  K: u32,         // inputs, a multiple of 64 (of 256 for Q4_K)
  has_bias: u32,  // 1 when bias is bound with real data
  row_words: u32, // u32 words of one row of W
  w_off: u32,     // word offset of row 0 in w
  x_off: u32,     // vec4 offset of x[0] in x
  y_off: u32,     // element offset of y[0] in y
  b_off: u32,     // element offset of bias[0] in bias
  groups: u32,    // blocks of G * R rows (the workgroups launched may be fewer, and folded onto y)
#if X_NORM
  eps: f32,       // RMSNorm epsilon
  w_offset: f32,  // added to the norm weight (Gemma: 1)
  nw_off: u32,    // vec4 offset of the norm weight in norm_w
#endif
#if X_MERGE
  n_chunks: u32,  // chunks per head
  ml_off: u32,    // float offset of the chunks' (max, sum) pairs
  dv4: u32,       // floats per chunk's partial row: Dv rounded up to 4
  dv: u32,        // values per head (a multiple of 32)
#endif
}

@group(0) @binding(0) var<uniform> p: Params;
#if X_PLANES
@group(0) @binding(1) var<storage, read> xp: array<vec4<u32>>; // [9 * K / 64] x already in planes (shaders/xPlanes.wgsl)
#elif X_MERGE
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>; // [K / Dv heads, n_chunks, dv4 / 4] vec4 f32 partial sums, then at ml_off [heads, n_chunks] (max, sum)
#else
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>; // [K / 4] vec4 f32 ([2K / 4]: gate | up, with GLU)
#endif
#if W_VEC4
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>; // [N, K] Q4_K super-blocks (9 vec4 each), rows 16-byte aligned
#else
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [N, K] Q4_0, Q8_0 or Q4_K blocks, rows word-aligned
#endif
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // [N] f32 (ignored when has_bias = 0)
@group(0) @binding(4) var<storage, read_write> y: array<f32>; // [N] f32
#if X_NORM
@group(0) @binding(5) var<storage, read> norm_w: array<vec4<f32>>; // [K / 4] RMSNorm weight f32
var<workgroup> norm_part: array<f32, 256>; // [256] partial sums of x²
var<workgroup> inv_rms: f32;
#endif

const L: u32 = ${L};
const G: u32 = 256u / L;
const R: u32 = ${R};
const KC: u32 = ${KC}; // values of x per chunk, a multiple of 64 * L
const UNITS: u32 = KC / 64u;

// x of the chunk, per unit of 64 values: vec4s 0-1 hi plane of block 0, 2-3 hi of block 1, 4-7 the same
// for lo; stored transposed so that the L lanes reading vec4 i of their units hit consecutive addresses:
// xq[((u / L) * 8 + i) * L + u % L].
#if !X_PLANES
var<workgroup> xq: array<vec4<u32>, UNITS * 8u>;   // [UNITS / L, 8, L] packed int8 x 4
var<workgroup> xs: array<vec4<f32>, UNITS>;        // [UNITS]: scale of block 0, of block 1, Σx of block 0, of block 1
#endif
var<workgroup> partial: array<f32, 256 * ${R}>;    // [G * R rows, L lanes]

#include "xPlanes"
#if !X_PLANES
#include "matmulGemvInput"

#if X_MERGE
var<workgroup> xm: array<vec4<f32>, ${KM}>; // [K / 4] x merged from the attention's chunks, before it is encoded

// (max, sum) of the scores of chunk pc = head * n_chunks + c.
fn chunk_ml(pc: u32) -> vec2<f32> {
  let v = x[(p.ml_off + 2u * pc) / 4u];
  return select(v.xy, v.zw, (pc & 1u) == 1u);
}

// vec4 i of chunk pc's partial sum.
fn chunk_acc(pc: u32, i: u32) -> vec4<f32> {
  return x[pc * (p.dv4 / 4u) + i];
}

#include "chunkMerge"

// vec4 j of the attention's output (head 4 j / dv).
fn merged_vec4(j: u32) -> vec4<f32> {
  return merge_chunks((4u * j) / p.dv * p.n_chunks, p.n_chunks, (4u * j) % p.dv / 4u);
}
#endif

// Encodes block b (32 values) of the chunk that starts at value c.
fn encode_block(c: u32, b: u32) {
  let v0 = p.x_off + (c + 32u * b) / 4u;
  var xv: array<vec4<f32>, 8>;
  for (var i = 0u; i < 8u; i++) { xv[i] = x_at(v0 + i); }
  let pb = plane_block(xv);
  let u = b / 2u;
  let half = b % 2u;
  for (var k = 0u; k < 2u; k++) {
    xq[((u / L) * 8u + 2u * half + k) * L + u % L] = pb.hi[k];
    xq[((u / L) * 8u + 4u + 2u * half + k) * L + u % L] = pb.lo[k];
  }
  xs[u][half] = pb.scale;
  xs[u][2u + half] = pb.sum;
}
#endif

// 254 * Σ q * hi + Σ q * lo over one word of 4 int8 q against x word j of a plane pair.
fn dp(q: u32, h: u32, l: u32) -> i32 {
  return 254 * dot4I8Packed(q, h) + dot4I8Packed(q, l);
}

#if Q4_0
const UNIT_WORDS: u32 = 9u; // a pair of blocks: d0, quants 0..15 of block 0 at bytes 2..17, d1, quants of block 1 at 20..35
#elif Q8_0
const UNIT_WORDS: u32 = 17u; // a pair of blocks: d0, quants of block 0 at bytes 2..33, d1, quants of block 1 at 36..67
#else
const UNIT_WORDS: u32 = 12u; // the super-block header (d | dmin, 12 scale bytes) and the unit's 32 quant bytes
#endif
alias Unit = array<u32, UNIT_WORDS>;

// The words of unit u (64 values) of row n.
fn load_unit(n: u32, u: u32) -> Unit {
  var a: Unit;
#if Q4_K
  let base = p.w_off + n * p.row_words + (u / 4u) * 36u; // super-block u / 4
  let qs = base + 4u + 8u * (u % 4u);                      // its quarter u % 4
#if W_VEC4
  let h = w[base / 4u];
  let q03 = w[qs / 4u];
  let q47 = w[qs / 4u + 1u];
  a = Unit(h.x, h.y, h.z, h.w, q03.x, q03.y, q03.z, q03.w, q47.x, q47.y, q47.z, q47.w);
#else
  for (var i = 0u; i < 4u; i++) { a[i] = w[base + i]; }
  for (var i = 0u; i < 8u; i++) { a[4u + i] = w[qs + i]; }
#endif
#else
  let base = p.w_off + n * p.row_words + u * UNIT_WORDS;
  for (var i = 0u; i < UNIT_WORDS; i++) { a[i] = w[base + i]; }
#endif
  return a;
}

#if Q4_0
fn unit_dot(a: Unit, u: u32, xv: array<vec4<u32>, 8>, s: vec4<f32>) -> f32 {
  let d0 = unpack2x16float(a[0]).x;
  let d1 = unpack2x16float(a[4]).y;
  var i0 = 0;
  var i1 = 0;
  for (var j = 0u; j < 4u; j++) {
    let q0 = (a[j] >> 16u) | (a[j + 1u] << 16u);
    i0 += dp(q0 & 0x0f0f0f0fu, xv[0][j], xv[4][j]) + dp((q0 >> 4u) & 0x0f0f0f0fu, xv[1][j], xv[5][j]);
    let q1 = a[5u + j];
    i1 += dp(q1 & 0x0f0f0f0fu, xv[2][j], xv[6][j]) + dp((q1 >> 4u) & 0x0f0f0f0fu, xv[3][j], xv[7][j]);
  }
  return d0 * (s.x / 254.0 * f32(i0) - 8.0 * s.z) + d1 * (s.y / 254.0 * f32(i1) - 8.0 * s.w);
}
#endif

#if Q8_0
fn unit_dot(a: Unit, u: u32, xv: array<vec4<u32>, 8>, s: vec4<f32>) -> f32 {
  let d0 = unpack2x16float(a[0]).x;
  let d1 = unpack2x16float(a[8]).y;
  var i0 = 0;
  var i1 = 0;
  for (var j = 0u; j < 8u; j++) {
    i0 += dp((a[j] >> 16u) | (a[j + 1u] << 16u), xv[j / 4u][j % 4u], xv[4u + j / 4u][j % 4u]);
    i1 += dp(a[9u + j], xv[2u + j / 4u][j % 4u], xv[6u + j / 4u][j % 4u]);
  }
  return d0 * s.x / 254.0 * f32(i0) + d1 * s.y / 254.0 * f32(i1);
}
#endif

#if Q4_K
// 6-bit scale and min of sub-block k (0..7) from the 12 scale bytes, little-endian in words s0, s1, s2.
fn scale_min(k: u32, s0: u32, s1: u32, s2: u32) -> vec2<f32> {
  let sh = (k % 4u) * 8u;
  let b0 = (s0 >> sh) & 0xffu; // byte k % 4
  let b1 = (s1 >> sh) & 0xffu; // byte k % 4 + 4
  if (k < 4u) {
    return vec2<f32>(f32(b0 & 63u), f32(b1 & 63u));
  }
  let b2 = (s2 >> sh) & 0xffu; // byte k + 4
  return vec2<f32>(f32((b2 & 0xfu) | ((b0 >> 6u) << 4u)), f32((b2 >> 4u) | ((b1 >> 6u) << 4u)));
}

// Quarter j = u % 4 of a super-block: its quant bytes 32j .. 32j + 31 (a[4..11]), low nibbles =
// sub-block 2j, high nibbles = sub-block 2j + 1.
fn unit_dot(a: Unit, u: u32, xv: array<vec4<u32>, 8>, s: vec4<f32>) -> f32 {
  let j = u % 4u;
  let dm = unpack2x16float(a[0]);
  var i0 = 0;
  var i1 = 0;
  for (var t = 0u; t < 8u; t++) {
    let q = a[4u + t];
    i0 += dp(q & 0x0f0f0f0fu, xv[t / 4u][t % 4u], xv[4u + t / 4u][t % 4u]);
    i1 += dp((q >> 4u) & 0x0f0f0f0fu, xv[2u + t / 4u][t % 4u], xv[6u + t / 4u][t % 4u]);
  }
  let sm0 = scale_min(2u * j, a[1], a[2], a[3]);
  let sm1 = scale_min(2u * j + 1u, a[1], a[2], a[3]);
  return dm.x * (sm0.x * s.x / 254.0 * f32(i0) + sm1.x * s.y / 254.0 * f32(i1)) - dm.y * (sm0.y * s.z + sm1.y * s.w);
}
#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let lane = li % L;
  let g = li / L;
#if ENCODE_ONCE
#if X_NORM
  var ss = 0.0;
  for (var i = li; i < p.K / 4u; i += 256u) {
    let v = x[p.x_off + i];
    ss += dot(v, v);
  }
  norm_part[li] = ss;
  for (var h = 128u; h > 0u; h >>= 1u) {
    workgroupBarrier();
    if (li < h) { norm_part[li] += norm_part[li + h]; }
  }
  workgroupBarrier();
  if (li == 0u) { inv_rms = inverseSqrt(norm_part[0] / f32(p.K) + p.eps); }
  workgroupBarrier();
#endif
#if X_MERGE
  for (var j = li; j < p.K / 4u; j += 256u) { xm[j] = merged_vec4(j); }
  workgroupBarrier();
#endif
  // x fits in one chunk: encoded once, then used for every block of rows this workgroup takes.
  for (var b = li; b < p.K / 32u; b += 256u) { encode_block(0u, b); }
  workgroupBarrier();
#endif
  // Blocks of G * R rows, strided over the launched workgroups (fewer than blocks for tall matrices, so
  // that x is encoded once per workgroup rather than once per block).
  for (var blk = wg.x + wg.y * nwg.x; blk < p.groups; blk += nwg.x * nwg.y) {
    let row0 = (blk * G + g) * R;
    var acc: array<f32, ${R}>;
    for (var r = 0u; r < R; r++) { acc[r] = 0.0; }
    for (var c = 0u; c < p.K; c += KC) {
      let units = min(KC, p.K - c) / 64u;
#if ENCODE_CHUNKS
      workgroupBarrier(); // the previous chunk is consumed
      for (var b = li; b < 2u * units; b += 256u) { encode_block(c, b); }
      workgroupBarrier();
#endif
      for (var ul = lane; ul < units; ul += L) {
        let u = c / 64u + ul;
        var xv: array<vec4<u32>, 8>;
#if X_PLANES
        // x straight from its planes in global memory (the same for every row: L1 hits after the first).
        let U = p.K / 64u;
        for (var i = 0u; i < 8u; i++) { xv[i] = xp[p.x_off + i * U + u]; }
        let s = bitcast<vec4<f32>>(xp[p.x_off + 8u * U + u]);
#else
        for (var i = 0u; i < 8u; i++) { xv[i] = xq[((ul / L) * 8u + i) * L + lane]; }
        let s = xs[ul];
#endif
        // All R rows' words first: R loads in flight per lane before any arithmetic waits on them.
        var a: array<Unit, R>;
        for (var r = 0u; r < R; r++) { a[r] = load_unit(min(row0 + r, p.N - 1u), u); }
        for (var r = 0u; r < R; r++) { acc[r] += unit_dot(a[r], u, xv, s); }
      }
    }
    // The L lanes' partial sums of each row meet in workgroup memory and are added as a tree.
    workgroupBarrier(); // the previous block's sums are read
    for (var r = 0u; r < R; r++) { partial[(g * R + r) * L + lane] = acc[r]; }
    for (var h = L / 2u; h > 0u; h /= 2u) {
      workgroupBarrier();
      if (lane < h) {
        for (var r = 0u; r < R; r++) { partial[(g * R + r) * L + lane] += partial[(g * R + r) * L + lane + h]; }
      }
    }
    workgroupBarrier();
    if (li < G * R) {
      let n = blk * G * R + li;
      if (n < p.N) {
        var s = partial[li * L];
        if (p.has_bias == 1u) { s += bias[p.b_off + n]; }
#if ACCUMULATE
        s += y[p.y_off + n];
#endif
        y[p.y_off + n] = s;
      }
    }
  }
}
