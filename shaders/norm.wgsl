// Row normalisations in f32: RMSNorm (y = x * rsqrt(mean(x²) + eps) * (w + offset)), the fused residual
// add + RMSNorm (residual += delta, then y = rmsNorm(residual)), and LayerNorm
// (y = (x - mean) * rsqrt(var + eps) * w + b, biased variance, two passes over the row).
//
// One workgroup of WG threads per row; rows beyond 65535 spill into grid.y. V is vec4<f32> when the
// row length H is a multiple of 4, else f32. Each thread strides over the row, sums in f32, and a tree
// reduction in workgroup memory gives the row sum; the second pass re-reads the row (the thread's own
// elements, L1/L2 resident) and writes y. Inputs sharing a buffer with a written tensor are bound
// read_write (${*_ACCESS}); IN_PLACE writes y through the x binding (y is x).
//
// XP_WRITE (RMS and ADD, one row, H a multiple of 64): y is also written in planes for the integer-dot
// decode GEMV that follows (shaders/xPlanes.wgsl), the 8 threads of each block of 32 values sharing its
// scale through workgroup memory.

alias V = ${V};
const WG: u32 = ${WG}u;

struct Params {
  rows: u32,
  hv: u32,       // row length in elements of V
  h: f32,        // row length in elements
  eps: f32,
  w_offset: f32, // 1 for Gemma's x * (1 + w)
  grid_x: u32,   // workgroups along x: row = wg.y * grid_x + wg.x
  xp_off: u32,   // XP_WRITE: vec4 offset of the planes in xp_out
}

@group(0) @binding(0) var<uniform> p: Params;
#if ADD
@group(0) @binding(1) var<storage, read_write> x: array<V>;        // [rows, H] f32: the residual, += delta
@group(0) @binding(2) var<storage, ${B_ACCESS}> delta: array<V>;   // [rows, H] f32
@group(0) @binding(3) var<storage, ${C_ACCESS}> w: array<V>;       // [H] f32
#if !IN_PLACE
@group(0) @binding(4) var<storage, read_write> y: array<V>;        // [rows, H] f32
#endif
#elif LAYER
@group(0) @binding(1) var<storage, ${A_ACCESS}> x: array<V>;       // [rows, H] f32
@group(0) @binding(2) var<storage, ${B_ACCESS}> w: array<V>;       // [H] f32
@group(0) @binding(3) var<storage, ${C_ACCESS}> b: array<V>;       // [H] f32 (unused without HAS_BIAS)
#if !IN_PLACE
@group(0) @binding(4) var<storage, read_write> y: array<V>;        // [rows, H] f32
#endif
#else
@group(0) @binding(1) var<storage, ${A_ACCESS}> x: array<V>;       // [rows, H] f32
@group(0) @binding(2) var<storage, ${B_ACCESS}> w: array<V>;       // [H] f32
#if !IN_PLACE
@group(0) @binding(3) var<storage, read_write> y: array<V>;        // [rows, H] f32
#endif
#endif

#if XP_WRITE
@group(0) @binding(${XP_BINDING}) var<storage, read_write> xp_out: array<vec4<u32>>; // [9 * H / 64] y in planes (layout: xPlanes.wgsl)
var<workgroup> block_sum: array<f32, WG>;
#include "xPlanes"
#endif

var<workgroup> partial: array<f32, WG>;

fn hsum(v: V) -> f32 {
#if VEC4
  return dot(v, V(1.0));
#else
  return v;
#endif
}

fn sq(v: V) -> f32 {
#if VEC4
  return dot(v, v);
#else
  return v * v;
#endif
}

fn row_sum(s: f32, lid: u32) -> f32 {
  partial[lid] = s;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (lid < k) {
      partial[lid] += partial[lid + k];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier(); // partial is reused by a second reduction
  return total;
}

fn store(i: u32, v: V) {
#if IN_PLACE
  x[i] = v;
#else
  y[i] = v;
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let row = wg.y * p.grid_x + wg.x;
  if (row >= p.rows) {
    return;
  }
  let lid = lid3.x;
  let base = row * p.hv;
  var s = 0.0;
#if LAYER
  for (var i = lid; i < p.hv; i += WG) {
    s += hsum(x[base + i]);
  }
  let mean = row_sum(s, lid) / p.h;
  s = 0.0;
  for (var i = lid; i < p.hv; i += WG) {
    let d = x[base + i] - V(mean);
    s += sq(d);
  }
  let inv = inverseSqrt(row_sum(s, lid) / p.h + p.eps);
  for (var i = lid; i < p.hv; i += WG) {
    var v = (x[base + i] - V(mean)) * inv * w[i];
#if HAS_BIAS
    v += b[i];
#endif
    store(base + i, v);
  }
#else
  for (var i = lid; i < p.hv; i += WG) {
#if ADD
    let v = x[base + i] + delta[base + i];
    x[base + i] = v;
#else
    let v = x[base + i];
#endif
    s += sq(v);
  }
  let inv = inverseSqrt(row_sum(s, lid) / p.h + p.eps);
#if XP_WRITE
  // y, and y in planes: the 8 threads of a block of 32 values (8 vec4, WG a multiple of 8) share its
  // largest |y| and its sum through workgroup memory; the loop runs uniformly for the barriers.
  let U = p.hv / 16u;
  for (var i0 = 0u; i0 < p.hv; i0 += WG) {
    let i = i0 + lid;
    let in_row = i < p.hv;
    var yv = V(0.0);
    if (in_row) {
      yv = x[base + i] * inv * (w[i] + V(p.w_offset));
      store(base + i, yv);
    }
    let a = abs(yv);
    partial[lid] = max(max(a.x, a.y), max(a.z, a.w));
    block_sum[lid] = yv.x + yv.y + yv.z + yv.w;
    workgroupBarrier();
    let g0 = lid & ~7u;
    var m = 0.0;
    for (var k = 0u; k < 8u; k++) { m = max(m, partial[g0 + k]); }
    if (in_row) {
      // vec4 i % 8 of block i / 8
      store_plane_words(p.xp_off, U, i / 8u, i % 8u, plane_words(yv, m));
      if (i % 8u == 0u) {
        var sum = 0.0;
        for (var k = 0u; k < 8u; k++) { sum += block_sum[g0 + k]; }
        store_plane_scale(p.xp_off, U, i / 8u, m / 127.0, sum);
      }
    }
    workgroupBarrier(); // partial and block_sum are written again
  }
#else
  for (var i = lid; i < p.hv; i += WG) {
    store(base + i, x[base + i] * inv * (w[i] + V(p.w_offset)));
  }
#endif
#endif
}
