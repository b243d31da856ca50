// x as the integer-dot GEMVs (gemvInt8.wgsl) take it: 16-bit fixed point per block of 32 values, a scale
// s = max|x| / 127 and two int8 planes hi = round(x / s), lo = round((x / s - hi) * 254), so that
// x = s * (hi + lo / 254) within s / 508.
//
// Stored form ("x planes", written by the norms for the GEMV that follows, src/kernels/xPlanes.ts), per
// unit u of 64 values (blocks 2u and 2u + 1) of a row of K values, U = K / 64 units:
//   vec4<u32> [i * U + u], i = 0..7: plane vec4 i of the unit, as gemvInt8 reads it: 0-1 hi of block 2u,
//     2-3 hi of block 2u + 1, 4-7 the same for lo (4 int8 per u32);
//   vec4<u32> [8U + u]: f32 bits of s of block 2u, s of 2u + 1, Σx of 2u, Σx of 2u + 1.
// Plane-major, so lanes reading consecutive units read consecutive addresses.

struct PlaneBlock {
  hi: array<vec4<u32>, 2>,
  lo: array<vec4<u32>, 2>,
  scale: f32,
  sum: f32,
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
  let inv = select(0.0, 127.0 / m, m > 0.0);
  var pb: PlaneBlock;
  for (var k = 0u; k < 2u; k++) {
    for (var j = 0u; j < 4u; j++) {
      let t = xv[4u * k + j] * inv;
      let hi = round(t);
      pb.hi[k][j] = pack4xI8(vec4<i32>(hi));
      pb.lo[k][j] = pack4xI8(vec4<i32>(round((t - hi) * 254.0)));
    }
  }
  pb.scale = m / 127.0;
  pb.sum = sum;
  return pb;
}

#if XP_WRITE
// Stores block b of a row of U units into the planes at vec4 xp_off of xp_out (array<vec4<u32>>, read_write).
fn store_plane_block(xp_off: u32, U: u32, b: u32, pb: PlaneBlock) {
  let u = b / 2u;
  let half = b % 2u;
  for (var k = 0u; k < 2u; k++) {
    xp_out[xp_off + (2u * half + k) * U + u] = pb.hi[k];
    xp_out[xp_off + (4u + 2u * half + k) * U + u] = pb.lo[k];
  }
  xp_out[xp_off + 8u * U + u][half] = bitcast<u32>(pb.scale);
  xp_out[xp_off + 8u * U + u][2u + half] = bitcast<u32>(pb.sum);
}
#endif
