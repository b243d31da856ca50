// Per-head matrix-vector products of a few tokens (T <= 4): y[t, h, b] = W[h, b, :] · x[t, h, :] with
// W [H, B, A] stored row by row and A % 4 == 0 (DeepSeek MLA's absorbed projections: W_ukᵀ, stored
// transposed at load, and W_uv). LPR lanes read each row of W as vec4 (consecutive lanes, consecutive
// addresses) for all T tokens; RPW = 256 / LPR rows per workgroup; the lanes' partial sums are added in
// workgroup memory. x rows (t, h) have a stride of x_stride4 vec4s, of which the first A / 4 are read (MLA's
// query keeps q_nope and q_pe of a head in one row); y rows have a stride of y_stride floats (the query of
// MLA writes into q_full).
//
// MLA_Q (the absorbed query of decode in one dispatch): one more column of workgroups (wg.x == row_groups)
// writes the rope part of every head, y[t, h, B + i] = rope_interleaved(x[t, h, A + ..], pos_t)[i] (q_pe
// after q_nope in each row of x), so that y = q_full [T, H, B + P]; and one more row of workgroups
// (wg.y == H) writes the tokens' latents into the cache, cache[pos % capacity] = [rmsnorm(c) * norm_w,
// rope_interleaved(k_pe, pos)] from ckv [T, B + P] (as mlaLatent.wgsl), so that the decode query and cache
// write are one dispatch.
//
// MERGE (one token, no MLA_Q): x is the MLA decode attention's output left as its chunks' partial results
// (src/kernels/decodeParts.ts, mlStride 4): each workgroup first merges its head's row into workgroup memory, so
// that the attention's merge is no dispatch of its own.

struct Params {
  T: u32,
  H: u32,
  A4: u32,          // input vec4s per head: A / 4
  B: u32,           // output rows per head
  x_stride4: u32,   // vec4s per (t, h) row of x: A / 4, or (A + P) / 4 with MLA_Q
  y_stride: u32,    // floats per (t, h) row of y: B, or B + P with MLA_Q
  row_groups: u32,  // workgroups along the rows of one head: ceil(B / RPW)
  P: u32,           // rope dims (MLA_Q)
  attn_factor: f32, // scales cos and sin (MLA_Q)
  capacity: u32,    // cache rows (MLA_Q)
  eps: f32,         // rms norm epsilon of the latent (MLA_Q)
#if MERGE
  n_chunks: u32,    // chunks per head
  ml_off4: u32,     // vec4 offset of the chunks' (max, sum, -, -)
#endif
}

@group(0) @binding(0) var<uniform> p: Params;
#if MERGE
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;     // [H, n_chunks, A / 4] partial sums, then at ml_off4 [H, n_chunks] (max, sum, -, -)
#else
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;     // [T, H, x_stride4]
#endif
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;     // [H, B, A / 4]
@group(0) @binding(3) var<storage, read_write> y: array<f32>;     // [T, H, y_stride] f32
#if MLA_Q
@group(0) @binding(4) var<storage, read> positions: array<u32>;   // [T] u32
@group(0) @binding(5) var<storage, read> inv_freq: array<f32>;    // [P / 2] f32
@group(0) @binding(6) var<storage, read> ckv: array<f32>;         // [T, B + P] f32: kv_a_proj_with_mqa's output
@group(0) @binding(7) var<storage, read> norm_w: array<f32>;      // [B] f32: kv_a_layernorm
@group(0) @binding(8) var<storage, read_write> cache: array<f32>; // [capacity, 1, B + P] f32

fn x_at(i: u32) -> f32 {
  return x[i / 4u][i % 4u];
}

#include "sincos"

fn rope_part(h: u32, lid: u32) {
  for (var i = lid; i < p.T * p.P; i += 256u) {
    let t = i / p.P;
    let k = i % p.P;
    let j = k / 2u;
    let src = (t * p.H + h) * p.x_stride4 * 4u + p.A4 * 4u + 2u * j;
    let sc = rope_sincos(f32(positions[t]) * inv_freq[j]);
    let c = sc.y * p.attn_factor;
    let s = sc.x * p.attn_factor;
    let x0 = x_at(src);
    let x1 = x_at(src + 1u);
    y[(t * p.H + h) * p.y_stride + p.B + k] = select(x1 * c + x0 * s, x0 * c - x1 * s, (k & 1u) == 0u);
  }
}
#endif

const LPR: u32 = ${LPR}u; // lanes per row (a power of two, 4..32)
const RPW: u32 = 256u / LPR;
const MAX_T: u32 = 4u;
var<workgroup> red: array<f32, 1024>; // [MAX_T, 256] partial sums

#if MLA_Q
// Token t's latent row into the cache: a workgroup sum of squares for the norm, then a strided write.
fn latent_row(t: u32, lid: u32) {
  let R = p.B;
  let D = R + p.P;
  let src = t * D;
  var ss = 0.0;
  for (var i = lid; i < R; i += 256u) {
    let v = ckv[src + i];
    ss += v * v;
  }
  red[lid] = ss;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] += red[lid + s];
    }
    workgroupBarrier();
  }
  let inv = inverseSqrt(red[0] / f32(R) + p.eps);
  workgroupBarrier();
  let pos = positions[t];
  let dst = (pos % p.capacity) * D;
  for (var i = lid; i < R; i += 256u) {
    cache[dst + i] = norm_w[i] * (ckv[src + i] * inv);
  }
  for (var j = lid; j < p.P / 2u; j += 256u) {
    let sc = rope_sincos(f32(pos) * inv_freq[j]);
    let c = sc.y * p.attn_factor;
    let s = sc.x * p.attn_factor;
    let x0 = ckv[src + R + 2u * j];
    let x1 = ckv[src + R + 2u * j + 1u];
    cache[dst + R + 2u * j] = x0 * c - x1 * s;
    cache[dst + R + 2u * j + 1u] = x1 * c + x0 * s;
  }
}
#endif

#if MERGE
var<workgroup> xh: array<vec4<f32>, 256>; // [A / 4] the head's merged row

// (max, sum) of chunk pc's scores, and vec4 a of its partial sum.
fn chunk_ml(pc: u32) -> vec2<f32> {
  return x[p.ml_off4 + pc].xy;
}
fn chunk_acc(pc: u32, a: u32) -> vec4<f32> {
  return x[pc * p.A4 + a];
}

#include "chunkMerge"
#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let h = wg.y;
#if MLA_Q
  if (h == p.H) {
    for (var t = wg.x; t < p.T; t += p.row_groups + 1u) {
      latent_row(t, lid);
    }
    return;
  }
  if (wg.x == p.row_groups) {
    rope_part(h, lid);
    return;
  }
#endif
#if MERGE
  for (var a = lid; a < p.A4; a += 256u) { xh[a] = merge_chunks(h * p.n_chunks, p.n_chunks, a); }
  workgroupBarrier();
#endif
  let row = lid / LPR;
  let lane = lid % LPR;
  let b = wg.x * RPW + row;
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  if (b < p.B) {
    let wr = (h * p.B + b) * p.A4;
    for (var a = lane; a < p.A4; a += LPR) {
      let wv = w[wr + a];
#if MERGE
      acc[0] += dot(wv, xh[a]);
#else
      for (var t = 0u; t < p.T; t++) {
        acc[t] += dot(wv, x[(t * p.H + h) * p.x_stride4 + a]);
      }
#endif
    }
  }
  for (var t = 0u; t < MAX_T; t++) {
    red[t * 256u + lid] = acc[t];
  }
  workgroupBarrier();
  for (var s = LPR / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var t = 0u; t < MAX_T; t++) {
        red[t * 256u + lid] += red[t * 256u + lid + s];
      }
    }
    workgroupBarrier();
  }
  if (lane < p.T && b < p.B) {
    y[(lane * p.H + h) * p.y_stride + b] = red[lane * 256u + row * LPR];
  }
}
