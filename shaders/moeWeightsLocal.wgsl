// Stand-in for shaders/weights.wgsl (float dtypes only) until it lands: load_w4(row_byte, k) returns
// weights k..k+3 of the row that starts at byte row_byte of `w` (declared by the including shader).

#if W_F32
const W_BLOCK_ELEMS: u32 = 1u;
const W_BLOCK_BYTES: u32 = 4u;
fn load_w4(row_byte: u32, k: u32) -> vec4<f32> {
  let i = row_byte / 4u + k;
  return vec4<f32>(bitcast<f32>(w[i]), bitcast<f32>(w[i + 1u]), bitcast<f32>(w[i + 2u]), bitcast<f32>(w[i + 3u]));
}
#elif W_F16
const W_BLOCK_ELEMS: u32 = 1u;
const W_BLOCK_BYTES: u32 = 2u;
fn load_w4(row_byte: u32, k: u32) -> vec4<f32> {
  let b = row_byte + 2u * k; // 4-byte aligned when row_byte and k are even
  let i = b / 4u;
  if ((b & 3u) == 0u) {
    return vec4<f32>(unpack2x16float(w[i]), unpack2x16float(w[i + 1u]));
  }
  let a = unpack2x16float(w[i]);
  let c = unpack2x16float(w[i + 1u]);
  let d = unpack2x16float(w[i + 2u]);
  return vec4<f32>(a.y, c.x, c.y, d.x);
}
#elif W_BF16
const W_BLOCK_ELEMS: u32 = 1u;
const W_BLOCK_BYTES: u32 = 2u;
fn bf16_pair(u: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<f32>(u << 16u), bitcast<f32>(u & 0xffff0000u));
}
fn load_w4(row_byte: u32, k: u32) -> vec4<f32> {
  let b = row_byte + 2u * k;
  let i = b / 4u;
  if ((b & 3u) == 0u) {
    return vec4<f32>(bf16_pair(w[i]), bf16_pair(w[i + 1u]));
  }
  let a = bf16_pair(w[i]);
  let c = bf16_pair(w[i + 1u]);
  let d = bf16_pair(w[i + 2u]);
  return vec4<f32>(a.y, c.x, c.y, d.x);
}
#endif
