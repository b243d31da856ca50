// Per-head matrix products y[t, h, :] = W[h] · x[t, h, :] (W [H, B, A]) or W[h]ᵀ · x[t, h, :] (TRANSPOSE:
// W [H, A, B]): DeepSeek MLA's absorbed projections (q_nope → latent with W_ukᵀ, latent output → v with W_uv).
//
// Three entries, all f32:
//   tiled:  any T. A 16x16 workgroup computes a [16 tokens, 16 outputs] tile of one head; x and W tiles
//           of 16 along A are staged in workgroup memory (W loaded along its contiguous axis either way).
//   rowDot: T <= 4, W [H, B, A]. 8 rows of W per workgroup, 32 lanes read each row along A (coalesced)
//           for all T tokens, then a workgroup-memory reduction over the lanes.
//   colDot: T <= 4, W [H, A, B]. One thread per output b reads the column W[h, :, b] (consecutive threads,
//           consecutive addresses) for all T tokens.

struct Params {
  T: u32,
  H: u32,
  A: u32, // input dim per head
  B: u32, // output dim per head
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [T, H, A] f32
@group(0) @binding(2) var<storage, read> w: array<f32>;       // [H, B, A] f32, or [H, A, B] with TRANSPOSE
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [T, H, B] f32

const TILE: u32 = 16u;
var<workgroup> xs: array<array<f32, 16>, 16>; // [t in tile, a in tile]
var<workgroup> ws: array<array<f32, 16>, 16>; // [b in tile, a in tile]

@compute @workgroup_size(16, 16)
fn tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let h = wg.z;
  let b0 = wg.x * TILE;
  let t = wg.y * TILE + lid.y;
  let b = b0 + lid.x;
  var acc = 0.0;
  for (var a0 = 0u; a0 < p.A; a0 += TILE) {
    let a = a0 + lid.x;
    xs[lid.y][lid.x] = select(0.0, x[(t * p.H + h) * p.A + a], t < p.T && a < p.A);
#if TRANSPOSE
    let wa = a0 + lid.y;
    ws[lid.x][lid.y] = select(0.0, w[(h * p.A + wa) * p.B + b], wa < p.A && b < p.B);
#else
    let wb = b0 + lid.y;
    ws[lid.y][lid.x] = select(0.0, w[(h * p.B + wb) * p.A + a], wb < p.B && a < p.A);
#endif
    workgroupBarrier();
    for (var i = 0u; i < TILE; i++) {
      acc += xs[lid.y][i] * ws[lid.x][i];
    }
    workgroupBarrier();
  }
  if (t < p.T && b < p.B) {
    y[(t * p.H + h) * p.B + b] = acc;
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
        acc[t] += wv * x[(t * p.H + h) * p.A + a];
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
      acc[t] += wv * x[(t * p.H + h) * p.A + a];
    }
  }
  for (var t = 0u; t < p.T; t++) {
    y[(t * p.H + h) * p.B + b] = acc[t];
  }
}
