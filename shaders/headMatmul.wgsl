// Per-head matrix products y[t, h, :] = W[h] · x[t, h, :] (W [H, B, A]) or W[h]ᵀ · x[t, h, :] (TRANSPOSE:
// W [H, A, B]): DeepSeek MLA's absorbed projections (q_nope → latent with W_ukᵀ, latent output → v with W_uv).
//
// Three entries, all f32:
//   tiled:  any T. A 16x16 workgroup computes a [64 tokens, 64 outputs] tile of one head, 4 x 4 outputs
//           per thread (tokens ly + 16 i, outputs lx + 16 j); x and W tiles of 16 along A are staged in
//           workgroup memory (W loaded along its contiguous axis either way).
//   rowDot: T <= 4, W [H, B, A]. 8 rows of W per workgroup, 32 lanes read each row along A (coalesced)
//           for all T tokens, then a workgroup-memory reduction over the lanes.
//   colDot: T <= 4, W [H, A, B]. One thread per output b reads the column W[h, :, b] (consecutive threads,
//           consecutive addresses) for all T tokens.

struct Params {
  T: u32,
  H: u32,
  A: u32, // input dim per head
  xS: u32, // floats per (t, h) row of x (>= A: the first A are read)
  B: u32, // output dim per head
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [T, H, xS] f32
@group(0) @binding(2) var<storage, read> w: array<f32>;       // [H, B, A] f32, or [H, A, B] with TRANSPOSE
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [T, H, B] f32

const TILE: u32 = 64u;   // tokens and outputs of a workgroup's tile
const KT: u32 = 16u;     // A per step
const XS: u32 = 65u;     // row stride of the staged tiles (padded against bank conflicts)
var<workgroup> xs: array<f32, 1040>; // [KT, XS]: x tile, [a][t]
var<workgroup> ws: array<f32, 1040>; // [KT, XS]: W tile, [a][b]

@compute @workgroup_size(16, 16)
fn tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(local_invocation_id) lid2: vec3<u32>) {
  let h = wg.z;
  let b0 = wg.x * TILE;
  let t0 = wg.y * TILE;
  var acc: array<array<f32, 4>, 4>; // [token t0 + ly + 16 i][output b0 + lx + 16 j]
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      acc[i][j] = 0.0;
    }
  }
  for (var a0 = 0u; a0 < p.A; a0 += KT) {
    for (var e = 0u; e < 4u; e++) {
      let la = lid % KT;
      let lt = lid / KT + 16u * e;
      let a = a0 + la;
      let t = t0 + lt;
      var xv = 0.0;
      if (t < p.T && a < p.A) {
        xv = x[(t * p.H + h) * p.xS + a];
      }
      xs[la * XS + lt] = xv;
#if TRANSPOSE
      let wb = lid % TILE;
      let wa = lid / TILE + 4u * e;
      var wv = 0.0;
      if (b0 + wb < p.B && a0 + wa < p.A) {
        wv = w[(h * p.A + a0 + wa) * p.B + b0 + wb];
      }
      ws[wa * XS + wb] = wv;
#else
      var wv = 0.0;
      if (b0 + lt < p.B && a < p.A) {
        wv = w[(h * p.B + b0 + lt) * p.A + a];
      }
      ws[la * XS + lt] = wv;
#endif
    }
    workgroupBarrier();
    for (var k = 0u; k < KT; k++) {
      var xv: array<f32, 4>;
      var wv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        xv[i] = xs[k * XS + lid2.y + 16u * i];
        wv[i] = ws[k * XS + lid2.x + 16u * i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i][j] += xv[i] * wv[j];
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let t = t0 + lid2.y + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let b = b0 + lid2.x + 16u * j;
      if (t < p.T && b < p.B) {
        y[(t * p.H + h) * p.B + b] = acc[i][j];
      }
    }
  }
}

const MAX_T: u32 = 4u;
var<workgroup> red: array<f32, 1024>; // [MAX_T, 8 rows, 32 lanes]

@compute @workgroup_size(256)
fn rowDot(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let h = wg.y;
  let row = lid / 32u;
  let lane = lid % 32u;
  let b = wg.x * 8u + row;
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  if (b < p.B) {
    let wr = (h * p.B + b) * p.A;
    for (var a = lane; a < p.A; a += 32u) {
      let wv = w[wr + a];
      for (var t = 0u; t < p.T; t++) {
        acc[t] += wv * x[(t * p.H + h) * p.xS + a];
      }
    }
  }
  for (var t = 0u; t < MAX_T; t++) {
    red[t * 256u + lid] = acc[t];
  }
  workgroupBarrier();
  for (var s = 16u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var t = 0u; t < MAX_T; t++) {
        red[t * 256u + lid] += red[t * 256u + lid + s];
      }
    }
    workgroupBarrier();
  }
  if (lane < p.T && b < p.B) {
    y[(lane * p.H + h) * p.B + b] = red[lane * 256u + row * 32u];
  }
}

@compute @workgroup_size(64)
fn colDot(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let h = wg.y;
  let b = wg.x * 64u + lid3.x;
  if (b >= p.B) {
    return;
  }
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var a = 0u; a < p.A; a++) {
    let wv = w[(h * p.A + a) * p.B + b];
    for (var t = 0u; t < p.T; t++) {
      acc[t] += wv * x[(t * p.H + h) * p.xS + a];
    }
  }
  for (var t = 0u; t < p.T; t++) {
    y[(t * p.H + h) * p.B + b] = acc[t];
  }
}
