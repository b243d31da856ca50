// Weight units of the MoE decode GEMVs on integer dot products (shaders/moeDecodeGateUp.wgsl,
// moeDecodeDown.wgsl), included by a shader that declares `var<storage, read> w: array<u32>` (GGUF blocks
// as stored; with SHARED also `ws`, the shared expert's) and one of W_Q4_0 / W_Q8_0 / W_Q4_K.
//
// A unit is UB blocks of 32 values of one weight row: Q4_0 / Q8_0 one block (at any even byte: a row of
// 18 / 34 * n bytes need not be word-aligned), Q4_K a quarter of a super-block (sub-blocks 2j and 2j + 1,
// the low and high nibbles of the same 32 quant bytes; rows 4-byte aligned). The x it meets is int8 per
// block of 32 (s = max|x| / 127, q = round(x / s)): XQ, 2 vec4s of 4 packed int8 per block, and per block
// (s, s Σq) (the Q4_K mins). unit_dot returns Σ w · (s q) over the unit.

#if W_Q4_K
const UB: u32 = 2u;  // blocks per unit
const UW: u32 = 12u; // words per unit: the super-block header (d | dmin, 12 scale bytes), 8 quant words
#elif W_Q8_0
const UB: u32 = 1u;
const UW: u32 = 9u;  // the 34-byte block from its word: d, 32 quants
#else
const UB: u32 = 1u;
const UW: u32 = 5u;  // the 18-byte block from its word: d, 16 quant bytes
#endif

alias Unit = array<u32, UW>;
alias XQ = array<vec4<u32>, 2u * UB>;   // x words of the unit's blocks
alias XS = array<vec2<f32>, UB>;        // (s, s Σq) of the unit's blocks

// Index in the weights of word i (< UW) of unit u of the row at byte row_byte.
fn unit_word(row_byte: u32, u: u32, i: u32) -> u32 {
#if W_Q4_K
  let base = (row_byte >> 2u) + (u / 4u) * 36u;
  return select(base + 4u + 8u * (u % 4u) + i - 4u, base + i, i < 4u);
#elif W_Q8_0
  return ((row_byte + u * 34u) >> 2u) + i;
#else
  return ((row_byte + u * 18u) >> 2u) + i;
#endif
}

// The words of unit u of the row at byte row_byte: of w, or (SHARED, sh) of the shared expert's ws.
fn load_unit(row_byte: u32, u: u32, sh: bool) -> Unit {
  var a: Unit;
#if SHARED
  if (sh) {
    for (var i = 0u; i < UW; i++) { a[i] = ws[unit_word(row_byte, u, i)]; }
    return a;
  }
#endif
  for (var i = 0u; i < UW; i++) { a[i] = w[unit_word(row_byte, u, i)]; }
  return a;
}

// Quant word j of a block that starts at an even byte: odd = the block starts at 2 mod 4.
fn word_at(a: Unit, j: u32, odd: bool) -> u32 {
  return select((a[j] >> 16u) | (a[j + 1u] << 16u), a[j + 1u], odd);
}

#if W_Q4_K
// 6-bit scale and min of sub-block k (0..7) from the 12 scale bytes in words s0, s1, s2.
fn scale_min(k: u32, s0: u32, s1: u32, s2: u32) -> vec2<f32> {
  let sh = (k % 4u) * 8u;
  let b0 = (s0 >> sh) & 0xffu;
  let b1 = (s1 >> sh) & 0xffu;
  if (k < 4u) {
    return vec2<f32>(f32(b0 & 63u), f32(b1 & 63u));
  }
  let b2 = (s2 >> sh) & 0xffu;
  return vec2<f32>(f32((b2 & 0xfu) | ((b0 >> 6u) << 4u)), f32((b2 >> 4u) | ((b1 >> 6u) << 4u)));
}
#endif

// Σ w · x over unit u (row at byte row_byte, whose words a holds).
fn unit_dot(a: Unit, row_byte: u32, u: u32, xq: XQ, xs: XS) -> f32 {
#if W_Q4_K
  let dm = unpack2x16float(a[0]);
  var i0 = 0;
  var i1 = 0;
  for (var t = 0u; t < 8u; t++) {
    let q = a[4u + t];
    i0 += dot4I8Packed(q & 0x0f0f0f0fu, xq[t / 4u][t % 4u]);
    i1 += dot4I8Packed((q >> 4u) & 0x0f0f0f0fu, xq[2u + t / 4u][t % 4u]);
  }
  let j = u % 4u;
  let sm0 = scale_min(2u * j, a[1], a[2], a[3]);
  let sm1 = scale_min(2u * j + 1u, a[1], a[2], a[3]);
  return dm.x * (sm0.x * xs[0].x * f32(i0) + sm1.x * xs[1].x * f32(i1)) - dm.y * (sm0.y * xs[0].y + sm1.y * xs[1].y);
#elif W_Q8_0
  let odd = ((row_byte + u * 34u) & 2u) != 0u;
  let dd = unpack2x16float(a[0]);
  var acc = 0;
  for (var j = 0u; j < 8u; j++) {
    acc += dot4I8Packed(word_at(a, j, odd), xq[j / 4u][j % 4u]);
  }
  return select(dd.x, dd.y, odd) * xs[0].x * f32(acc);
#else
  let odd = ((row_byte + u * 18u) & 2u) != 0u;
  let dd = unpack2x16float(a[0]);
  var acc = 0;
  for (var j = 0u; j < 4u; j++) {
    let q = word_at(a, j, odd);
    // Each nibble b (0..15) to b - 8 as int8: (b + 0x78) ^ 0x80, no carry between bytes.
    acc += dot4I8Packed(((q & 0x0f0f0f0fu) + 0x78787878u) ^ 0x80808080u, xq[0][j]);
    acc += dot4I8Packed((((q >> 4u) & 0x0f0f0f0fu) + 0x78787878u) ^ 0x80808080u, xq[1][j]);
  }
  return select(dd.x, dd.y, odd) * xs[0].x * f32(acc);
#endif
}

// 32 values (8 vec4) as int8 words, with (s, s Σq).
struct XBlock {
  q: array<vec4<u32>, 2>,
  s: vec2<f32>,
}

fn quantize_block(v: array<vec4<f32>, 8>) -> XBlock {
  var m = 0.0;
  for (var i = 0u; i < 8u; i++) {
    let a = abs(v[i]);
    m = max(m, max(max(a.x, a.y), max(a.z, a.w)));
  }
  let inv = select(0.0, 127.0 / m, m > 0.0);
  var b: XBlock;
  var qsum = vec4<f32>(0.0);
  for (var i = 0u; i < 8u; i++) {
    let q = round(v[i] * inv);
    qsum += q;
    b.q[i / 4u][i % 4u] = pack4xI8(vec4<i32>(q));
  }
  let s = m / 127.0;
  b.s = vec2<f32>(s, s * (qsum.x + qsum.y + qsum.z + qsum.w));
  return b;
}
