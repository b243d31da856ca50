// Weight readers for every weight dtype, included (#include "weights") by kernels that declare
//   var<storage, read> w: array<u32>;   // weights in their stored layout (GGUF blocks for q*)
// One of W_F32 / W_F16 / W_BF16 / W_Q8_0 / W_Q4_0 / W_Q4_K / W_Q6_K selects the format. Each defines:
//   const W_BLOCK_ELEMS, W_BLOCK_BYTES      the block (1 element for float dtypes)
//   fn load_w4(row_byte, k) -> vec4<f32>    weights k..k+3 (k a multiple of 4) of the row at byte row_byte
//   const W_CHUNK, W_CHUNK_VEC4             elements a thread reads as one unit (a block or sub-block)
//   fn load_w_chunk(row_byte, k)            weights k..k+W_CHUNK-1 (k a multiple of W_CHUNK) as vec4s;
//                                           the scales of the unit are read once
// Blocks are not 4-byte aligned for q8_0 (34 B), q4_0 (18 B) and q6_k (210 B): they start at even bytes,
// and their fields are read as u32 words and shifted. q4_k (144 B) rows must start 4-byte aligned.

// The f16 at an even byte address of w.
fn w_f16(byte: u32) -> f32 {
  let v = unpack2x16float(w[byte >> 2u]);
  return select(v.x, v.y, (byte & 2u) != 0u);
}

// The 4 bytes at an even byte address of w, as one little-endian word.
fn w_word2(byte: u32) -> u32 {
  let i = byte >> 2u;
  return select(w[i], (w[i] >> 16u) | (w[i + 1u] << 16u), (byte & 2u) != 0u);
}

// The byte at any address of w.
fn w_byte(byte: u32) -> u32 {
  return (w[byte >> 2u] >> ((byte & 3u) * 8u)) & 0xffu;
}

// The four signed bytes of a word as floats.
fn w_i8x4(u: u32) -> vec4<f32> {
  return vec4<f32>((vec4<i32>(bitcast<i32>(u)) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}

// Nibbles (shift 0: low, 4: high) of the four bytes of a word.
fn w_nib4(u: u32, shift: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(u) >> (vec4<u32>(0u, 8u, 16u, 24u) + shift)) & vec4<u32>(0xfu));
}

// bf16 pair of a word: (low half, high half).
fn w_bf16x2(u: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<f32>(u << 16u), bitcast<f32>(u & 0xffff0000u));
}

#if W_F32
const W_BLOCK_ELEMS: u32 = 1u;
const W_BLOCK_BYTES: u32 = 4u;
fn load_w4(row_byte: u32, k: u32) -> vec4<f32> {
  let i = row_byte / 4u + k;
  return vec4<f32>(bitcast<f32>(w[i]), bitcast<f32>(w[i + 1u]), bitcast<f32>(w[i + 2u]), bitcast<f32>(w[i + 3u]));
}
const W_CHUNK: u32 = 4u;
const W_CHUNK_VEC4: u32 = 1u;
fn load_w_chunk(row_byte: u32, k: u32) -> array<vec4<f32>, 1> {
  return array<vec4<f32>, 1>(load_w4(row_byte, k));
}
#elif W_F16
const W_BLOCK_ELEMS: u32 = 1u;
const W_BLOCK_BYTES: u32 = 2u;
fn load_w4(row_byte: u32, k: u32) -> vec4<f32> {
  let b = row_byte + 2u * k;
  let i = b / 4u;
  if ((b & 3u) == 0u) {
    return vec4<f32>(unpack2x16float(w[i]), unpack2x16float(w[i + 1u]));
  }
  let a = unpack2x16float(w[i]);
  let c = unpack2x16float(w[i + 1u]);
  let d = unpack2x16float(w[i + 2u]);
  return vec4<f32>(a.y, c.x, c.y, d.x);
}
const W_CHUNK: u32 = 4u;
const W_CHUNK_VEC4: u32 = 1u;
fn load_w_chunk(row_byte: u32, k: u32) -> array<vec4<f32>, 1> {
  return array<vec4<f32>, 1>(load_w4(row_byte, k));
}
#elif W_BF16
const W_BLOCK_ELEMS: u32 = 1u;
const W_BLOCK_BYTES: u32 = 2u;
fn load_w4(row_byte: u32, k: u32) -> vec4<f32> {
  let b = row_byte + 2u * k;
  let i = b / 4u;
  if ((b & 3u) == 0u) {
    return vec4<f32>(w_bf16x2(w[i]), w_bf16x2(w[i + 1u]));
  }
  let a = w_bf16x2(w[i]);
  let c = w_bf16x2(w[i + 1u]);
  let d = w_bf16x2(w[i + 2u]);
  return vec4<f32>(a.y, c.x, c.y, d.x);
}
const W_CHUNK: u32 = 4u;
const W_CHUNK_VEC4: u32 = 1u;
fn load_w_chunk(row_byte: u32, k: u32) -> array<vec4<f32>, 1> {
  return array<vec4<f32>, 1>(load_w4(row_byte, k));
}
#elif W_Q8_0
// { f16 d; int8 qs[32] }: value = qs[i] * d
const W_BLOCK_ELEMS: u32 = 32u;
const W_BLOCK_BYTES: u32 = 34u;
fn load_w4(row_byte: u32, k: u32) -> vec4<f32> {
  let a = row_byte + (k / 32u) * 34u;
  return w_i8x4(w_word2(a + 2u + (k % 32u))) * w_f16(a);
}
const W_CHUNK: u32 = 32u;
const W_CHUNK_VEC4: u32 = 8u;
fn load_w_chunk(row_byte: u32, k: u32) -> array<vec4<f32>, 8> {
  let a = row_byte + (k / 32u) * 34u;
  let i = a >> 2u;
  let odd = (a & 2u) != 0u; // block starts at 2 mod 4: qs words are whole words i+1..i+8
  var ws: array<u32, 9>;
  for (var j = 0u; j < 9u; j++) {
    ws[j] = w[i + j];
  }
  let d = unpack2x16float(ws[0]);
  let scale = select(d.x, d.y, odd);
  var out: array<vec4<f32>, 8>;
  for (var j = 0u; j < 8u; j++) {
    let q = select((ws[j] >> 16u) | (ws[j + 1u] << 16u), ws[j + 1u], odd);
    out[j] = w_i8x4(q) * scale;
  }
  return out;
}
#elif W_Q4_0
// { f16 d; uint8 qs[16] }: element j < 16 is the low nibble of qs[j], element 16 + j the high one;
// value = (q - 8) * d
const W_BLOCK_ELEMS: u32 = 32u;
const W_BLOCK_BYTES: u32 = 18u;
fn load_w4(row_byte: u32, k: u32) -> vec4<f32> {
  let a = row_byte + (k / 32u) * 18u;
  let j = k % 32u;
  return (w_nib4(w_word2(a + 2u + (j % 16u)), (j / 16u) * 4u) - 8.0) * w_f16(a);
}
const W_CHUNK: u32 = 32u;
const W_CHUNK_VEC4: u32 = 8u;
fn load_w_chunk(row_byte: u32, k: u32) -> array<vec4<f32>, 8> {
  let a = row_byte + (k / 32u) * 18u;
  let i = a >> 2u;
  let odd = (a & 2u) != 0u;
  let w0 = w[i];
  let w1 = w[i + 1u];
  let w2 = w[i + 2u];
  let w3 = w[i + 3u];
  let w4 = w[i + 4u];
  let d = unpack2x16float(w0);
  let scale = select(d.x, d.y, odd);
  let q0 = select((w0 >> 16u) | (w1 << 16u), w1, odd);
  let q1 = select((w1 >> 16u) | (w2 << 16u), w2, odd);
  let q2 = select((w2 >> 16u) | (w3 << 16u), w3, odd);
  let q3 = select((w3 >> 16u) | (w4 << 16u), w4, odd);
  let off = vec4<f32>(8.0);
  return array<vec4<f32>, 8>(
    (w_nib4(q0, 0u) - off) * scale, (w_nib4(q1, 0u) - off) * scale,
    (w_nib4(q2, 0u) - off) * scale, (w_nib4(q3, 0u) - off) * scale,
    (w_nib4(q0, 4u) - off) * scale, (w_nib4(q1, 4u) - off) * scale,
    (w_nib4(q2, 4u) - off) * scale, (w_nib4(q3, 4u) - off) * scale);
}
#elif W_Q4_K
// { f16 d; f16 dmin; uint8 scales[12]; uint8 qs[128] }: sub-block s (32 values) has a 6-bit scale sc and
// min m (get_scale_min_k4); value = d * sc * q - dmin * m. Values 64p..64p+31 are the low nibbles of
// qs[32p..32p+31], values 64p+32..64p+63 the high nibbles.
const W_BLOCK_ELEMS: u32 = 256u;
const W_BLOCK_BYTES: u32 = 144u;
// (d * sc, dmin * m) of sub-block s (0..7) of the block at byte a (4-byte aligned): get_scale_min_k4.
fn w_q4k_scale(a: u32, s: u32) -> vec2<f32> {
  let i = a >> 2u;
  let dm = unpack2x16float(w[i]);
  let sh = (s % 4u) * 8u;
  let b0 = (w[i + 1u] >> sh) & 0xffu; // scales[s % 4]
  let b1 = (w[i + 2u] >> sh) & 0xffu; // scales[s % 4 + 4]
  let b2 = (w[i + 3u] >> sh) & 0xffu; // scales[s % 4 + 8]
  let sc = select((b2 & 0xfu) | ((b0 >> 6u) << 4u), b0 & 63u, s < 4u);
  let m = select((b2 >> 4u) | ((b1 >> 6u) << 4u), b1 & 63u, s < 4u);
  return vec2<f32>(dm.x * f32(sc), dm.y * f32(m));
}
fn load_w4(row_byte: u32, k: u32) -> vec4<f32> {
  let a = row_byte + (k / 256u) * 144u;
  let kb = k % 256u;
  let l = kb % 64u;
  let q = w[(a + 16u + 32u * (kb / 64u) + (l % 32u)) >> 2u];
  let s = w_q4k_scale(a, kb / 32u);
  return w_nib4(q, (l / 32u) * 4u) * s.x - s.y;
}
const W_CHUNK: u32 = 32u;
const W_CHUNK_VEC4: u32 = 8u;
fn load_w_chunk(row_byte: u32, k: u32) -> array<vec4<f32>, 8> {
  let a = row_byte + (k / 256u) * 144u;
  let sub = (k % 256u) / 32u;
  let s = w_q4k_scale(a, sub);
  let qi = (a + 16u + 32u * (sub / 2u)) >> 2u;
  let shift = (sub % 2u) * 4u;
  var out: array<vec4<f32>, 8>;
  for (var j = 0u; j < 8u; j++) {
    out[j] = w_nib4(w[qi + j], shift) * s.x - s.y;
  }
  return out;
}
#elif W_Q6_K
// { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; f16 d }: value = d * scales[is] * (q - 32), q 6 bits.
// Value 128n + 32g + l (g < 4, l < 32): low 4 bits from ql[64n + 32(g & 1) + l] (nibble g >> 1), high 2
// bits from qh[32n + l] (bits 2g), scale index 8n + 2g + l / 16.
const W_BLOCK_ELEMS: u32 = 256u;
const W_BLOCK_BYTES: u32 = 210u;
fn w_q6k_scale(a: u32, is: u32) -> f32 {
  return f32((bitcast<i32>(w_byte(a + 192u + is)) << 24u) >> 24u) * w_f16(a + 208u);
}
fn w_q6k4(lw: u32, hw: u32, g: u32) -> vec4<f32> {
  let lo = (vec4<u32>(lw) >> (vec4<u32>(0u, 8u, 16u, 24u) + 4u * (g >> 1u))) & vec4<u32>(0xfu);
  let hi = (vec4<u32>(hw) >> (vec4<u32>(0u, 8u, 16u, 24u) + 2u * g)) & vec4<u32>(3u);
  return vec4<f32>(lo | (hi << vec4<u32>(4u))) - 32.0;
}
fn load_w4(row_byte: u32, k: u32) -> vec4<f32> {
  let a = row_byte + (k / 256u) * 210u;
  let kb = k % 256u;
  let n = kb / 128u;
  let g = (kb % 128u) / 32u;
  let l = kb % 32u;
  let lw = w_word2(a + 64u * n + 32u * (g & 1u) + l);
  let hw = w_word2(a + 128u + 32u * n + l);
  return w_q6k4(lw, hw, g) * w_q6k_scale(a, 8u * n + 2u * g + l / 16u);
}
const W_CHUNK: u32 = 32u;
const W_CHUNK_VEC4: u32 = 8u;
fn load_w_chunk(row_byte: u32, k: u32) -> array<vec4<f32>, 8> {
  let a = row_byte + (k / 256u) * 210u;
  let kb = k % 256u;
  let n = kb / 128u;
  let g = (kb % 128u) / 32u;
  let lb = a + 64u * n + 32u * (g & 1u);
  let hb = a + 128u + 32u * n;
  let s0 = w_q6k_scale(a, 8u * n + 2u * g);
  let s1 = w_q6k_scale(a, 8u * n + 2u * g + 1u);
  var out: array<vec4<f32>, 8>;
  for (var j = 0u; j < 8u; j++) {
    out[j] = w_q6k4(w_word2(lb + 4u * j), w_word2(hb + 4u * j), g) * select(s1, s0, j < 4u);
  }
  return out;
}
#endif

