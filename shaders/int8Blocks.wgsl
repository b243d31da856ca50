// The int8 form of a weight block for the integer-dot GEMMs (shaders/matmulInt8Tile.wgsl, the subgroup-matrix
// GEMM shaders/matmulSubgroupMatrixInt8.wgsl): Q4_0 nibbles - 8, Q8_0 bytes, Q4_K nibbles of a sub-block, with
// the block's scales. Included after "weights" by a shader that declares one of W_Q4_0 / W_Q8_0 / W_Q4_K and
//   var<storage, read> w: array<u32>;

// Block blk (32 values) of the row at byte row_byte: its 8 words of int8 x 4 (word j: values 4j .. 4j + 3)
// and its (d, dmin * m).
struct Block {
  q: array<u32, 8>,
  dm: vec2<f32>,
}

fn load_block(row_byte: u32, blk: u32) -> Block {
  var r: Block;
#if W_Q4_0
  // { f16 d; u8 qs[16] } at an even byte: value j < 16 is the low nibble of qs[j], 16 + j the high one.
  let a = row_byte + blk * 18u;
  let i = a >> 2u;
  let odd = (a & 2u) != 0u; // the block starts at 2 mod 4: qs are the whole words i + 1 .. i + 4
  var words: array<u32, 5>;
  for (var j = 0u; j < 5u; j++) { words[j] = w[i + j]; }
  let d = unpack2x16float(words[0]);
  r.dm = vec2<f32>(select(d.x, d.y, odd), 0.0);
  for (var j = 0u; j < 4u; j++) {
    let q = select((words[j] >> 16u) | (words[j + 1u] << 16u), words[j + 1u], odd);
    // Each nibble b (0..15) to b - 8 as int8: (b + 0x78) ^ 0x80, no carry between bytes.
    r.q[j] = ((q & 0x0f0f0f0fu) + 0x78787878u) ^ 0x80808080u;
    r.q[4u + j] = (((q >> 4u) & 0x0f0f0f0fu) + 0x78787878u) ^ 0x80808080u;
  }
#elif W_Q8_0
  // { f16 d; i8 qs[32] } at an even byte.
  let a = row_byte + blk * 34u;
  let i = a >> 2u;
  let odd = (a & 2u) != 0u;
  var words: array<u32, 9>;
  for (var j = 0u; j < 9u; j++) { words[j] = w[i + j]; }
  let d = unpack2x16float(words[0]);
  r.dm = vec2<f32>(select(d.x, d.y, odd), 0.0);
  for (var j = 0u; j < 8u; j++) { r.q[j] = select((words[j] >> 16u) | (words[j + 1u] << 16u), words[j + 1u], odd); }
#else
  // Sub-block s = blk % 8 of super-block blk / 8 (4-byte aligned): nibble s % 2 of quant bytes 32 (s / 2) .. + 31.
  let a = row_byte + (blk / 8u) * 144u;
  let s = blk % 8u;
  let qi = (a + 16u + 32u * (s / 2u)) >> 2u;
  let sh = 4u * (s % 2u);
  for (var j = 0u; j < 8u; j++) { r.q[j] = (w[qi + j] >> sh) & 0x0f0f0f0fu; }
  r.dm = w_q4k_scale(a, s);
#endif
  return r;
}
