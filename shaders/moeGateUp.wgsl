// MoE experts, first half: act[pair, I] = act_fn(gate_e · x_t) * (up_e · x_t) for each (token t, slot j)
// pair = t*K + j routed to expert e = ids[pair]. Only the rows of the selected experts are read.
//
// Weights: gate_up [E, 2I, H] of any weight dtype (rows [0, I) gate, [I, 2I) up), read by load_w4.
// Entry `pairs` (decode, few tokens): a workgroup of 256 = 4 rows x 64 lanes per (4 rows, pair); lanes
//   stride over H by vec4 and reduce in workgroup memory. Grid (ceil(I / 4), T*K).
// Entry `grouped` (prefill): per expert, its pairs (list/counts from moeBucket) in tiles of 16 pairs x 16
//   rows; x rows and gate/up weight tiles of 16 along H are staged in workgroup memory, so each weight
//   tile is read once per 16 pairs. Grid (ceil(I / 16), ceil(T / 16), E); tiles past an expert's count
//   exit at once.
// ACT: 0 silu, 1 gelu (tanh), 2 gpt-oss clamped SwiGLU: min(g, limit)·σ(alpha·g)·(clamp(u, ±limit) + 1).

struct Params {
  T: u32,         // tokens
  K: u32,         // experts per token
  H: u32,         // hidden size (row length)
  I: u32,         // expert intermediate size
  row_bytes: u32, // bytes of one weight row of H elements
  has_bias: u32,  // 1 when bias holds data
  cap: u32,       // row capacity of each expert's list (T)
  limit: f32,     // ACT 2 clamp limit
  alpha: f32,     // ACT 2 sigmoid slope
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // [T, H] f32
@group(0) @binding(2) var<storage, read> ids: array<u32>;          // [T, K] u32
@group(0) @binding(3) var<storage, read> w: array<u32>;            // [E, 2I, H] weight dtype
@group(0) @binding(4) var<storage, read> bias: array<f32>;         // [E, 2I] f32
@group(0) @binding(5) var<storage, read_write> act: array<f32>;    // [T*K, I] f32
@group(0) @binding(6) var<storage, read> counts: array<u32>;       // [E] u32 (grouped)
@group(0) @binding(7) var<storage, read> list: array<u32>;         // [E, cap] u32 pair ids (grouped)

#include "weights"

const NONE: u32 = 0xffffffffu;

fn activate(g0: f32, u0: f32) -> f32 {
#if ACT_GELU
  let g = g0;
  let z = clamp(0.7978845608028654 * (g + 0.044715 * g * g * g), -15.0, 15.0);
  return 0.5 * g * (1.0 + tanh(z)) * u0;
#elif ACT_CLAMP
  let g = min(g0, p.limit);
  let u = clamp(u0, -p.limit, p.limit);
  return g / (1.0 + exp(-p.alpha * g)) * (u + 1.0);
#else
  return g0 / (1.0 + exp(-g0)) * u0;
#endif
}

fn bias_of(e: u32, row: u32) -> f32 {
  return select(0.0, bias[e * 2u * p.I + row], p.has_bias == 1u);
}

fn lane_mask(k: u32, n: u32) -> vec4<bool> {
  return vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(n);
}

fn load_x4(t: u32, k: u32) -> vec4<f32> {
  let b = t * p.H + k;
  let m = lane_mask(k, p.H);
  return vec4<f32>(
    select(0.0, x[b], m.x),
    select(0.0, x[b + 1u], m.y),
    select(0.0, x[b + 2u], m.z),
    select(0.0, x[b + 3u], m.w),
  );
}

var<workgroup> red_g: array<f32, 256>;
var<workgroup> red_u: array<f32, 256>;

@compute @workgroup_size(256)
fn pairs(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let r = lid / 64u;
  let lane = lid % 64u;
  let i = wg.x * 4u + r;
  let pair = wg.y;
  let t = pair / p.K;
  let e = ids[pair];
  let row = min(i, p.I - 1u);
  let g_byte = (e * 2u * p.I + row) * p.row_bytes;
  let u_byte = g_byte + p.I * p.row_bytes;
  var g = 0.0;
  var u = 0.0;
  for (var k = lane * 4u; k < p.H; k += 256u) {
    let xv = load_x4(t, k);
    g += dot(select(vec4<f32>(0.0), load_w4(g_byte, k), lane_mask(k, p.H)), xv);
    u += dot(select(vec4<f32>(0.0), load_w4(u_byte, k), lane_mask(k, p.H)), xv);
  }
  red_g[lid] = g;
  red_u[lid] = u;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lane < s) {
      red_g[lid] += red_g[lid + s];
      red_u[lid] += red_u[lid + s];
    }
    workgroupBarrier();
  }
  if (lane == 0u && i < p.I) {
    act[pair * p.I + i] = activate(red_g[lid] + bias_of(e, i), red_u[lid] + bias_of(e, p.I + i));
  }
}

var<workgroup> xs: array<array<f32, 16>, 16>; // [pair in tile, h in tile]
var<workgroup> gs: array<array<f32, 16>, 16>; // [gate row in tile, h in tile]
var<workgroup> us: array<array<f32, 16>, 16>; // [up row in tile, h in tile]
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
  let i0 = wg.x * 16u;
  let my_pair = tile_pairs[ly];
  var g = 0.0;
  var u = 0.0;
  for (var k0 = 0u; k0 < p.H; k0 += 16u) {
    var xv = 0.0;
    if (my_pair != NONE && k0 + lx < p.H) {
      xv = x[(my_pair / p.K) * p.H + k0 + lx];
    }
    xs[ly][lx] = xv;
    if (lin < 128u) {
      let which = lin / 64u;
      let rr = (lin % 64u) / 4u;
      let c = lin % 4u;
      let row = min(i0 + rr, p.I - 1u);
      let kk = k0 + c * 4u;
      var wv = vec4<f32>(0.0);
      if (kk < p.H) {
        wv = select(vec4<f32>(0.0), load_w4((e * 2u * p.I + which * p.I + row) * p.row_bytes, kk), lane_mask(kk, p.H));
      }
      if (which == 0u) {
        gs[rr][c * 4u] = wv.x;
        gs[rr][c * 4u + 1u] = wv.y;
        gs[rr][c * 4u + 2u] = wv.z;
        gs[rr][c * 4u + 3u] = wv.w;
      } else {
        us[rr][c * 4u] = wv.x;
        us[rr][c * 4u + 1u] = wv.y;
        us[rr][c * 4u + 2u] = wv.z;
        us[rr][c * 4u + 3u] = wv.w;
      }
    }
    workgroupBarrier();
    for (var q = 0u; q < 16u; q++) {
      let xq = xs[ly][q];
      g += xq * gs[lx][q];
      u += xq * us[lx][q];
    }
    workgroupBarrier();
  }
  let i = i0 + lx;
  if (my_pair != NONE && i < p.I) {
    act[my_pair * p.I + i] = activate(g + bias_of(e, i), u + bias_of(e, p.I + i));
  }
}
