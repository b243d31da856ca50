// x as the integer-dot GEMVs (matmulGemvInt8.wgsl) take it: 16-bit fixed point per block of 32 values, a scale
// s = max|x| / 127 and two int8 planes hi = round(x / s), lo = round((x / s - hi) * 254), so that
// x = s * (hi + lo / 254) within s / 508.
//
// Stored form ("x planes", written by the norms for the GEMV that follows, src/kernels/xPlanes.ts), per
// unit u of 64 values (blocks 2u and 2u + 1) of a row of K values, U = K / 64 units:
//   vec4<u32> [i * U + u], i = 0..7: plane vec4 i of the unit, as matmulGemvInt8 reads it: 0-1 hi of block 2u,
//     2-3 hi of block 2u + 1, 4-7 the same for lo (4 int8 per u32);
//   vec4<u32> [8U + u]: f32 bits of s of block 2u, s of 2u + 1, Σx of 2u, Σx of 2u + 1.
// Plane-major, so lanes reading consecutive units read consecutive addresses.

struct PlaneBlock {
  hi: array<vec4<u32>, 2>, // the hi words of vec4s 0-3 and 4-7 of the block
  lo: array<vec4<u32>, 2>,
  scale: f32,
  sum: f32,
}

// The hi and lo words of 4 values of a block whose largest |x| is m.
fn plane_words(v: vec4<f32>, m: f32) -> vec2<u32> {
  let t = v * select(0.0, 127.0 / m, m > 0.0);
  let hi = round(t);
  return vec2<u32>(pack4xI8(vec4<i32>(hi)), pack4xI8(vec4<i32>(round((t - hi) * 254.0))));
}

// One block of 32 values (8 vec4) in planes.
fn plane_block(xv: array<vec4<f32>, 8>) -> PlaneBlock {
  var m = 0.0;
  var sum = 0.0;
  for (var i = 0u; i < 8u; i++) {
    let a = abs(xv[i]);
    m = max(m, max(max(a.x, a.y), max(a.z, a.w)));
    sum += xv[i].x + xv[i].y + xv[i].z + xv[i].w;
  }
  var pb: PlaneBlock;
  for (var k = 0u; k < 2u; k++) {
    for (var j = 0u; j < 4u; j++) {
      let words = plane_words(xv[4u * k + j], m);
      pb.hi[k][j] = words.x;
      pb.lo[k][j] = words.y;
    }
  }
  pb.scale = m / 127.0;
  pb.sum = sum;
  return pb;
}

#if XP_WRITE
// Into the planes at vec4 xp_off of xp_out (array<vec4<u32>>, read_write) of a row of U units: the words of
// vec4 e (0..7) of block b, and the block's scale (its largest |x| / 127) and sum.
fn store_plane_words(xp_off: u32, U: u32, b: u32, e: u32, words: vec2<u32>) {
  let u = b / 2u;
  let k = 2u * (b % 2u) + e / 4u;
  xp_out[xp_off + k * U + u][e % 4u] = words.x;
  xp_out[xp_off + (4u + k) * U + u][e % 4u] = words.y;
}

fn store_plane_scale(xp_off: u32, U: u32, b: u32, scale: f32, sum: f32) {
  xp_out[xp_off + 8u * U + b / 2u][b % 2u] = bitcast<u32>(scale);
  xp_out[xp_off + 8u * U + b / 2u][2u + b % 2u] = bitcast<u32>(sum);
}
#endif
