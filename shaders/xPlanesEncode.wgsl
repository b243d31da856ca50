// x (one row of K f32 values) into planes for the integer-dot decode GEMV (shaders/xPlanes.wgsl): one
// thread per block of 32 values. The norms write planes themselves (norm.wgsl, XP_WRITE); this kernel is
// for an x that no norm produces.

struct Params {
  K: u32,      // values, a multiple of 64
  x_off: u32,  // vec4 offset of x[0] in x
  xp_off: u32, // vec4 offset of the planes in xp_out
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;           // [K / 4] vec4 f32
@group(0) @binding(2) var<storage, read_write> xp_out: array<vec4<u32>>; // [9 * K / 64] planes

#include "xPlanes"

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= p.K / 32u) {
    return;
  }
  var xv: array<vec4<f32>, 8>;
  for (var i = 0u; i < 8u; i++) { xv[i] = x[p.x_off + 8u * b + i]; }
  let pb = plane_block(xv);
  let U = p.K / 64u;
  for (var e = 0u; e < 8u; e++) { store_plane_words(p.xp_off, U, b, e, vec2<u32>(pb.hi[e / 4u][e % 4u], pb.lo[e / 4u][e % 4u])); }
  store_plane_scale(p.xp_off, U, b, pb.scale, pb.sum);
}
