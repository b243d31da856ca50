// Decode GEMV on integer dot products with coalesced weight loads: y[n] = Σ_k x[k] · W[n, k] (+ bias[n]) for
// one token (T = 1), W in Q4_0 or Q8_0 GGUF blocks as stored (18 / 34 bytes: blocks straddle words).
//
// gemvInt8.wgsl gives each lane whole pairs of blocks, read as 9 / 17 scalar words at a 36 / 68-byte stride
// across lanes. Here lane l of a group reads vec4s l, l + L, ... of each row instead, so that a group's
// loads are contiguous. x is laid out in workgroup memory in the weight's byte order: for weight word m of a
// row, the int8 x values that its 4 bytes multiply (two planes, hi and lo, as in gemvInt8.wgsl; for Q4_0 one
// word for the low nibbles and one for the high), 0 where a byte is a block's f16 scale. A weight word then
// meets x through dot4I8Packed with no unpacking of blocks. Every word belongs to one block (blocks are
// 2 mod 4 bytes long and start with their 2-byte scale; a word goes to the block of its first byte), so a
// vec4 spans at most two blocks, A and B = A + 1; B's scale d lies in the vec4, A's is read from the row
// (an L1 hit: the group has just read those bytes). Q4_0's zero point (8) enters as z = -8 Σ (254 hi + lo) over the block,
// added to the integer sum of the block's first word.
//
// x is encoded per chunk of whole periods (256 values: 8 blocks, 9 / 17 vec4s of weights) in two steps:
// per block the scale (and z), then per weight word its x words. Workgroups stride over blocks of G * R
// rows as in gemvInt8.wgsl.

struct Params {
  N: u32,         // outputs
  K: u32,         // inputs, a multiple of 256
  has_bias: u32,  // 1 when bias is bound with real data
  row_words: u32, // u32 words of one row of W (a multiple of 4)
  w_off: u32,     // word offset of row 0 in w (a multiple of 4)
  x_off: u32,     // vec4 offset of x[0] in x
  y_off: u32,     // element offset of y[0] in y
  b_off: u32,     // element offset of bias[0] in bias
  groups: u32,    // blocks of G * R rows (the workgroups launched may be fewer, and folded onto y)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>; // [K / 4] vec4 f32 ([2K / 4]: gate | up, with GLU)
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>; // [N, K] Q4_0 or Q8_0 blocks, rows 16-byte aligned
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // [N] f32 (ignored when has_bias = 0)
@group(0) @binding(4) var<storage, read_write> y: array<f32>; // [N] f32

const L: u32 = ${L};
const G: u32 = 256u / L;
const R: u32 = ${R};
const CP: u32 = ${CP}; // periods (256 values) of x per chunk

#if Q4_0
const BB: u32 = 18u; // bytes per block
const QB: i32 = 16;  // quant bytes per block
const VP: u32 = 9u;  // vec4s of a row per period
const NS: u32 = 4u;  // x words per weight word: hi plane (low nibbles, high nibbles), lo plane (the same)
#else
const BB: u32 = 34u;
const QB: i32 = 32;
const VP: u32 = 17u;
const NS: u32 = 2u;  // hi plane, lo plane
#endif
const CV: u32 = CP * VP; // vec4s of a row per chunk
const CB: u32 = CP * 8u; // blocks per chunk

var<workgroup> sx: array<vec4<u32>, NS * CV>;       // [NS, CV] x words in the weight's byte order, 4 per vec4 of W
var<workgroup> sv: array<vec4<u32>, CV>;            // [CV] per vec4: bits of f32 s_A / 254, s_B / 254; i32 z_A, z_B
var<workgroup> smeta: array<u32, CV>;               // [CV] per vec4: block A in the chunk | words of A << 16
var<workgroup> sb: array<vec2<f32>, CB>;            // [CB] per block: s / 254, 127 / max|x|
var<workgroup> sz: array<i32, CB>;                  // [CB] per block: z (0 for Q8_0)
var<workgroup> partial: array<f32, 256 * ${R}>;     // [G * R rows, L lanes]

#include "gemvInput"

// hi and lo of one value: x = s (hi + lo / 254) with s = max|x of its block| / 127.
fn planes(v: f32, inv: f32) -> vec2<i32> {
  let t = v * inv;
  let hi = round(t);
  return vec2<i32>(i32(hi), i32(round((t - hi) * 254.0)));
}

// Block b of the chunk that starts at value c: its scale and (Q4_0) z.
fn encode_block(c: u32, b: u32) {
  let v0 = p.x_off + (c + 32u * b) / 4u;
  var m = 0.0;
  for (var i = 0u; i < 8u; i++) {
    let a = abs(x_at(v0 + i));
    m = max(m, max(max(a.x, a.y), max(a.z, a.w)));
  }
  let inv = select(0.0, 127.0 / m, m > 0.0);
  var z = 0;
#if Q4_0
  for (var i = 0u; i < 8u; i++) {
    let xv = x_at(v0 + i);
    for (var k = 0u; k < 4u; k++) {
      let q = planes(xv[k], inv);
      z += 254 * q.x + q.y;
    }
  }
  z *= -8;
#endif
  sb[b] = vec2<f32>(m / 127.0 / 254.0, inv);
  sz[b] = z;
}

// The block (of its period) of word wp of a period: the block of its first byte.
fn block_of(wp: u32) -> u32 {
  return (4u * wp) / BB;
}

// Values start .. start + 3 of x (start even, from -2; values past either end are masked by the caller).
fn x4(start: i32) -> vec4<f32> {
  if ((start & 3) == 0) {
    return x_at(p.x_off + u32(start) / 4u);
  }
  let k = u32(start + 2) / 4u; // start = 4k - 2: the halves of vec4s k - 1 and k
  let a = x_at(p.x_off + max(k, 1u) - 1u);
  let b = x_at(p.x_off + k);
  return vec4<f32>(a.z, a.w, b.x, b.y);
}

// The x words of word m (of the chunk that starts at value c) for the hi and lo planes, of the values at
// quant bytes j0 .. j0 + 3 of block b + off / 32 (off: 0, or 16 for Q4_0's high nibbles).
fn x_words(c: u32, b: u32, j0: i32, off: i32) -> vec2<u32> {
  let inv = sb[b].y;
  let xv = x4(i32(c + 32u * b) + off + j0);
  var hi: vec4<i32>;
  var lo: vec4<i32>;
  for (var k = 0; k < 4; k++) {
    let j = j0 + k;
    let q = select(vec2<i32>(0), planes(xv[k], inv), j >= 0 && j < QB);
    hi[k] = q.x;
    lo[k] = q.y;
  }
  return vec2<u32>(pack4xI8(hi), pack4xI8(lo));
}

// Weight word m of the chunk that starts at value c: its x words, and for the first word of a vec4 the
// vec4's blocks, their scales and z.
fn encode_word(c: u32, m: u32) {
  let period = m / (4u * VP);
  let wp = m % (4u * VP);
  let bp = block_of(wp);
  let b = period * 8u + bp;
  let j0 = i32(4u * wp - BB * bp) - 2; // the word's first byte as a quant index of its block (-2: the scale)
  let v = m / 4u;
  let i = m % 4u;
#if Q4_0
  let low = x_words(c, b, j0, 0);
  let high = x_words(c, b, j0, 16);
  sx[v][i] = low.x;
  sx[CV + v][i] = high.x;
  sx[2u * CV + v][i] = low.y;
  sx[3u * CV + v][i] = high.y;
#else
  let q = x_words(c, b, j0, 0);
  sx[v][i] = q.x;
  sx[CV + v][i] = q.y;
#endif
  if (i == 0u) {
    // Words of the vec4 in block b (A); the rest are in b + 1 (B), whose first word is then in this vec4.
    var na = 1u;
    for (var k = 1u; k < 4u; k++) { na += select(0u, 1u, block_of(wp + k) == bp); }
    let first = wp == 0u || block_of(wp - 1u) != bp; // this vec4 holds A's first word
    let bB = min(b + 1u, CB - 1u);
    let sA = sb[b].x;
    let sB = select(0.0, sb[bB].x, na < 4u);
    sv[v] = vec4<u32>(bitcast<u32>(sA), bitcast<u32>(sB), bitcast<u32>(select(0, sz[b], first)), bitcast<u32>(select(0, sz[bB], na < 4u)));
    smeta[v] = b | (na << 16u);
  }
}

// 254 * Σ q * hi + Σ q * lo over one word of 4 int8 q against the x words of a plane pair.
fn dp(q: u32, h: u32, l: u32) -> i32 {
  return 254 * dot4I8Packed(q, h) + dot4I8Packed(q, l);
}

// Word k of v by selects: a dynamic index would move the caller's array of vec4s to local memory.
fn word_of(v: vec4<u32>, k: u32) -> u32 {
  return select(select(v.x, v.y, k == 1u), select(v.z, v.w, k == 3u), k >= 2u);
}

// The f16 scale d of block b of the row that starts at word row_w.
fn block_scale(row_w: u32, b: u32) -> f32 {
  let word = row_w + (BB * b) / 4u;
  let h = unpack2x16float(w[word / 4u][word % 4u]);
  return select(h.x, h.y, b % 2u == 1u);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let lane = li % L;
  let g = li / L;
#if ONE_CHUNK
  for (var b = li; b < CB; b += 256u) { encode_block(0u, b); }
  workgroupBarrier();
  for (var m = li; m < CV * 4u; m += 256u) { encode_word(0u, m); }
  workgroupBarrier();
#endif
  for (var blk = wg.x + wg.y * nwg.x; blk < p.groups; blk += nwg.x * nwg.y) {
    let row0 = (blk * G + g) * R;
    var acc: array<f32, ${R}>;
    for (var r = 0u; r < R; r++) { acc[r] = 0.0; }
    for (var c = 0u; c < p.K; c += CP * 256u) {
      let cv = min(CV, (p.K - c) / 256u * VP); // vec4s of a row in this chunk
#if !ONE_CHUNK
      workgroupBarrier(); // the previous chunk is consumed
      for (var b = li; b < cv / VP * 8u; b += 256u) { encode_block(c, b); }
      workgroupBarrier();
      for (var m = li; m < cv * 4u; m += 256u) { encode_word(c, m); }
      workgroupBarrier();
#endif
      let v0 = (c / 256u) * VP; // the chunk's first vec4 in a row
      let b0 = c / 32u;         // its first block
      for (var vl = lane; vl < cv; vl += L) {
        let info = smeta[vl];
        let na = info >> 16u;
        let bA = b0 + (info & 0xffffu);
        // B's scale lies in this vec4 (B begins in it), A's in it or the one before (read again: an L1 hit).
        let kB = min((BB * (bA + 1u)) / 4u - 4u * (v0 + vl), 3u);
        var q: array<vec4<u32>, ${R}>;
        var dA: array<f32, ${R}>;
        for (var r = 0u; r < R; r++) {
          let row_w = p.w_off + min(row0 + r, p.N - 1u) * p.row_words;
          q[r] = w[row_w / 4u + v0 + vl];
          dA[r] = block_scale(row_w, bA);
        }
        let s = sv[vl];
        let sA = bitcast<f32>(s.x);
        let sB = bitcast<f32>(s.y);
        let za = bitcast<i32>(s.z);
        let zb = bitcast<i32>(s.w);
        // x words: hi plane then lo plane; for Q4_0 each for the low nibbles (n0) and the high (n1).
#if Q4_0
        let hi_n0 = sx[vl];
        let hi_n1 = sx[CV + vl];
        let lo_n0 = sx[2u * CV + vl];
        let lo_n1 = sx[3u * CV + vl];
#else
        let hi = sx[vl];
        let lo = sx[CV + vl];
#endif
        for (var r = 0u; r < R; r++) {
          var ia = za;
          var ib = zb;
          for (var i = 0u; i < 4u; i++) {
#if Q4_0
            let e = dp(q[r][i] & 0x0f0f0f0fu, hi_n0[i], lo_n0[i]) + dp((q[r][i] >> 4u) & 0x0f0f0f0fu, hi_n1[i], lo_n1[i]);
#else
            let e = dp(q[r][i], hi[i], lo[i]);
#endif
            ia += select(0, e, i < na);
            ib += select(e, 0, i < na);
          }
          let hB = unpack2x16float(word_of(q[r], kB));
          let dB = select(0.0, select(hB.x, hB.y, bA % 2u == 0u), na < 4u); // B = A + 1: high half when B is odd
          acc[r] += dA[r] * sA * f32(ia) + dB * sB * f32(ib);
        }
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
        y[p.y_off + n] = s;
      }
    }
  }
}
