// MoE experts, second half: out[t, H] = Σ_j weight[t, j] · (down_e · act[t*K + j] + bias_e), e = ids[t, j].
// Only the rows of the selected experts are read.
//
// Weights: down [E, H, I] of any weight dtype, read by load_w4.
// Entry `combine` (decode): a workgroup of 256 = 4 output rows x 64 lanes per (4 rows, token); each lane
//   accumulates over the K experts of the token and strides over I by vec4. Grid (ceil(H / 4), T).
//   Writes out = y [T, H] (+= when accumulate).
// Entry `grouped` (prefill): per expert, tiles of 16 pairs x 16 output rows (as moeGateUp's `grouped`),
//   writing the weighted output of each pair to out = ypairs [T*K, H]; moeCombine sums the K slots.
//   Grid (ceil(H / 16), ceil(T / 16), E).

struct Params {
  T: u32,          // tokens
  K: u32,          // experts per token
  H: u32,          // hidden size (output rows)
  I: u32,          // expert intermediate size (row length)
  row_bytes: u32,  // bytes of one weight row of I elements
  has_bias: u32,   // 1 when bias holds data
  cap: u32,        // row capacity of each expert's list (T)
  accumulate: u32, // combine: 1 adds to out instead of overwriting
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> act: array<f32>;          // [T*K, I] f32
@group(0) @binding(2) var<storage, read> ids: array<u32>;          // [T, K] u32
@group(0) @binding(3) var<storage, read> rw: array<f32>;           // [T, K] f32 routing weights
@group(0) @binding(4) var<storage, read> w: array<u32>;            // [E, H, I] weight dtype
@group(0) @binding(5) var<storage, read> bias: array<f32>;         // [E, H] f32
@group(0) @binding(6) var<storage, read_write> out: array<f32>;    // combine: [T, H]; grouped: [T*K, H] f32
@group(0) @binding(7) var<storage, read> counts: array<u32>;       // [E] u32 (grouped)
@group(0) @binding(8) var<storage, read> list: array<u32>;         // [E, cap] u32 pair ids (grouped)

#include "weights"

const NONE: u32 = 0xffffffffu;

fn lane_mask(k: u32, n: u32) -> vec4<bool> {
  return vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(n);
}

fn load_act4(pair: u32, k: u32) -> vec4<f32> {
  let b = pair * p.I + k;
  let m = lane_mask(k, p.I);
  return vec4<f32>(
    select(0.0, act[b], m.x),
    select(0.0, act[b + 1u], m.y),
    select(0.0, act[b + 2u], m.z),
    select(0.0, act[b + 3u], m.w),
  );
}

fn bias_of(e: u32, h: u32) -> f32 {
  return select(0.0, bias[e * p.H + h], p.has_bias == 1u);
}

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn combine(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let r = lid / 64u;
  let lane = lid % 64u;
  let h = wg.x * 4u + r;
  let t = wg.y;
  let row = min(h, p.H - 1u);
  var acc = 0.0;
  for (var j = 0u; j < p.K; j++) {
    let pair = t * p.K + j;
    let e = ids[pair];
    let byte = (e * p.H + row) * p.row_bytes;
    var s = 0.0;
    for (var k = lane * 4u; k < p.I; k += 256u) {
      s += dot(select(vec4<f32>(0.0), load_w4(byte, k), lane_mask(k, p.I)), load_act4(pair, k));
    }
    acc += rw[pair] * s;
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lane < s) {
      red[lid] += red[lid + s];
    }
    workgroupBarrier();
  }
  if (lane == 0u && h < p.H) {
    var v = red[lid];
    for (var j = 0u; j < p.K; j++) {
      v += rw[t * p.K + j] * bias_of(ids[t * p.K + j], h);
    }
    if (p.accumulate == 1u) {
      v += out[t * p.H + h];
    }
    out[t * p.H + h] = v;
  }
}

var<workgroup> as_: array<array<f32, 16>, 16>; // [pair in tile, i in tile]
var<workgroup> ws: array<array<f32, 16>, 16>;  // [h in tile, i in tile]
var<workgroup> tile_pairs: array<u32, 16>;
var<workgroup> tile_count: u32;

@compute @workgroup_size(16, 16)
fn grouped(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lx = lid3.x;
  let ly = lid3.y;
  let lin = ly * 16u + lx;
  let e = wg.z;
  let r0 = wg.y * 16u;
  if (lin == 0u) {
    tile_count = counts[e];
  }
  if (lin < 16u) {
    let c = counts[e];
    tile_pairs[lin] = select(NONE, list[e * p.cap + r0 + lin], r0 + lin < c);
  }
  let cnt = workgroupUniformLoad(&tile_count);
  if (r0 >= cnt) {
    return;
  }
  let h0 = wg.x * 16u;
  let my_pair = tile_pairs[ly];
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.I; k0 += 16u) {
    var av = 0.0;
    if (my_pair != NONE && k0 + lx < p.I) {
      av = act[my_pair * p.I + k0 + lx];
    }
    as_[ly][lx] = av;
    if (lin < 64u) {
      let rr = lin / 4u;
      let c = lin % 4u;
      let row = min(h0 + rr, p.H - 1u);
      let kk = k0 + c * 4u;
      var wv = vec4<f32>(0.0);
      if (kk < p.I) {
        wv = select(vec4<f32>(0.0), load_w4((e * p.H + row) * p.row_bytes, kk), lane_mask(kk, p.I));
      }
      ws[rr][c * 4u] = wv.x;
      ws[rr][c * 4u + 1u] = wv.y;
      ws[rr][c * 4u + 2u] = wv.z;
      ws[rr][c * 4u + 3u] = wv.w;
    }
    workgroupBarrier();
    for (var q = 0u; q < 16u; q++) {
      acc += as_[ly][q] * ws[lx][q];
    }
    workgroupBarrier();
  }
  let h = h0 + lx;
  if (my_pair != NONE && h < p.H) {
    out[my_pair * p.H + h] = rw[my_pair] * (acc + bias_of(e, h));
  }
}
