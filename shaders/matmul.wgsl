// Matrix multiplication y = x · Wᵀ (+ bias), the layout of torch.nn.Linear: W is [N, K], row n the weights
// of output n, in any weight dtype (shaders/weights.wgsl: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k).
//
// Entry `gemv` (decode, T <= 4 tokens, TT = T): a workgroup of 256 threads computes ROWS = 256 / LANES
// rows; the LANES threads of a row walk it in units of W_CHUNK values (a whole block or sub-block, its
// scales read once, u32 word loads; two units in flight per thread), so W is read exactly once and
// coalesced; each unit is dotted with
// the TT rows of x (vec4 loads, L1-resident), then the lanes reduce in workgroup memory. The workgroups
// (ceil(N / ROWS)) are laid out on a 2-D grid when there are more than 65535.
// Entry `tiled` (prefill): a workgroup computes a 64 (t) x 64 (n) tile of y, 4 x 4 outputs per thread in
// registers. Per step of 32 along K, the x tile and the dequantized W tile (units of W_CHUNK) are staged
// in workgroup memory as [k][row] vec4s. Grid (N tiles on x/y as above, ceil(T / 64) on z).
// Edges are guarded (rows past N read row N-1, values past K are masked), so any T, N and K works (K a
// multiple of the block for block formats). X_VEC4: x rows are vec4-aligned (K % 4 == 0, x_off % 4 == 0).

struct Params {
  T: u32,         // rows of x and y (tokens)
  N: u32,         // outputs
  K: u32,         // inputs
  has_bias: u32,  // 1 when bias is bound with real data
  row_bytes: u32, // bytes of one row of W
  w_off: u32,     // byte offset of row 0 in w
  x_off: u32,     // element offset of x[0, 0] in x
  y_off: u32,     // element offset of y[0, 0] in y
  b_off: u32,     // element offset of bias[0] in bias
  groups: u32,    // workgroups (gemv) or n tiles (tiled) along N
  y_stride: u32,  // elements between rows of y (N, or more when W is used in row ranges)
}

@group(0) @binding(0) var<uniform> p: Params;
#if X_VEC4
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>; // [T, K] f32
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [T, K] f32
#endif
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [N, K] weight dtype (GGUF blocks)
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // [N] f32 (ignored when has_bias = 0)
@group(0) @binding(4) var<storage, read_write> y: array<f32>; // [T, y_stride] f32 (columns 0..N-1 written)

#include "weights"

fn lanes_in(k: u32) -> vec4<bool> {
  return vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.K);
}

// x[t, k..k+3], zero past K.
fn x4(t: u32, k: u32) -> vec4<f32> {
#if X_VEC4
  return x[(p.x_off + t * p.K + k) / 4u];
#else
  let i = p.x_off + t * p.K + k;
  let v = vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
  return select(vec4<f32>(0.0), v, lanes_in(k));
#endif
}

fn bias_at(n: u32) -> f32 {
  return select(0.0, bias[p.b_off + n], p.has_bias == 1u);
}

#if GEMV
const LANES: u32 = ${LANES};
const ROWS: u32 = 256u / LANES;
const TT: u32 = ${TT};
var<workgroup> red: array<vec4<f32>, 256>; // [row, lane] partial sums of the TT tokens

// The TT dot products of one weight unit (values k.. of a row) with the rows of x.
fn dot_unit(wv: array<vec4<f32>, W_CHUNK_VEC4>, k: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  for (var v = 0u; v < W_CHUNK_VEC4; v++) {
    let kv = k + 4u * v;
#if W_CHUNK_MASK
    let wm = select(vec4<f32>(0.0), wv[v], lanes_in(kv));
#else
    let wm = wv[v];
#endif
    for (var t = 0u; t < TT; t++) {
      acc[t] += dot(wm, x4(t, kv));
    }
  }
  return acc;
}

@compute @workgroup_size(256)
fn gemv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let group = wg.x + wg.y * nwg.x;
  let lane = li % LANES;
  let r = li / LANES;
  let n_out = group * ROWS + r;
  let row = p.w_off + min(n_out, p.N - 1u) * p.row_bytes;
  var acc = vec4<f32>(0.0);
  let chunks = (p.K + W_CHUNK - 1u) / W_CHUNK;
  // Two units per step, both loaded before either is used: more bytes in flight per thread.
  var c = lane;
  for (; c + LANES < chunks; c += 2u * LANES) {
    let w0 = load_w_chunk(row, c * W_CHUNK);
    let w1 = load_w_chunk(row, (c + LANES) * W_CHUNK);
    acc += dot_unit(w0, c * W_CHUNK) + dot_unit(w1, (c + LANES) * W_CHUNK);
  }
  if (c < chunks) {
    acc += dot_unit(load_w_chunk(row, c * W_CHUNK), c * W_CHUNK);
  }
  red[li] = acc;
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lane < s) {
      red[li] += red[li + s];
    }
  }
  if (lane == 0u && n_out < p.N && group < p.groups) {
    let sum = red[li];
    for (var t = 0u; t < min(TT, p.T); t++) {
      y[p.y_off + t * p.y_stride + n_out] = sum[t] + bias_at(n_out);
    }
  }
}
#endif

#if TILED
const TILE: u32 = 64u;
const TK: u32 = 32u;
const UNITS: u32 = TK / W_CHUNK; // weight units per row of a K step
var<workgroup> xs: array<vec4<f32>, 512>; // [TK, TILE / 4] x tile, 4 tokens per vec4
var<workgroup> ws: array<vec4<f32>, 512>; // [TK, TILE / 4] W tile, 4 rows per vec4

@compute @workgroup_size(256)
fn tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
  let tile_n = wg.x + wg.y * nwg.x;
  if (tile_n >= p.groups) {
    return;
  }
  let n0 = tile_n * TILE;
  let t0 = wg.z * TILE;
  let tx = li % 16u; // 4 rows n0 + 4 tx ..
  let ty = li / 16u; // 4 tokens t0 + 4 ty ..
  var acc: array<vec4<f32>, 4>; // [token i][row j]
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    for (var i = 0u; i < 8u; i++) {
      let e = li + 256u * i;
      let tl = e / TK;
      let kk = e % TK;
      let t = t0 + tl;
      let k = k0 + kk;
#if X_VEC4
      let xv = x[(p.x_off + min(t, p.T - 1u) * p.K + (k & ~3u)) / 4u][k & 3u];
#else
      let xv = x[p.x_off + min(t, p.T - 1u) * p.K + k];
#endif
      xs[kk * 16u + tl / 4u][tl % 4u] = select(0.0, xv, t < p.T && k < p.K);
    }
    for (var u = li; u < TILE * UNITS; u += 256u) {
      let rl = u / UNITS;
      let kc = (u % UNITS) * W_CHUNK;
      let wv = load_w_chunk(p.w_off + min(n0 + rl, p.N - 1u) * p.row_bytes, k0 + kc);
      for (var v = 0u; v < W_CHUNK_VEC4; v++) {
        let kv = kc + 4u * v;
        let wm = select(vec4<f32>(0.0), wv[v], lanes_in(k0 + kv));
        for (var e = 0u; e < 4u; e++) {
          ws[(kv + e) * 16u + rl / 4u][rl % 4u] = wm[e];
        }
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a = xs[kk * 16u + ty];
      let b = ws[kk * 16u + tx];
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let t = t0 + 4u * ty + i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + 4u * tx + j;
      if (t < p.T && n < p.N) {
        y[p.y_off + t * p.y_stride + n] = acc[i][j] + bias_at(n);
      }
    }
  }
}
#endif
