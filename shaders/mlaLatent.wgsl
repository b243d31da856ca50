// Multi-head latent attention (DeepSeek-V2/V3): writes the compressed latent of T tokens into the cache.
// ckv = kv_a_proj_with_mqa(x) holds [c (R), k_pe (P)] per token; the cache row of position pos gets
// [rmsnorm(c) * w, rope_interleaved(k_pe, pos)] (R + P values: all that MLA caches per token).
// One workgroup of 64 per token: a workgroup sum of squares for the norm, then a strided write.

struct Params {
  T: u32,           // tokens
  R: u32,           // kv_lora_rank
  P: u32,           // qk_rope_head_dim
  capacity: u32,    // cache rows (position p lives in row p % capacity)
  eps: f32,         // rms norm epsilon
  attn_factor: f32, // scales cos and sin (YaRN attention factor)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ckv: array<f32>;            // [T, R + P] f32
@group(0) @binding(2) var<storage, read> norm_w: array<f32>;         // [R] f32
@group(0) @binding(3) var<storage, read> positions: array<u32>;      // [T] u32
@group(0) @binding(4) var<storage, read> inv_freq: array<f32>;       // [P / 2] f32
@group(0) @binding(5) var<storage, read_write> cache: array<f32>;    // [capacity, 1, R + P] f32

var<workgroup> red: array<f32, 64>;

#include "sincos"

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let t = wg.x;
  let D = p.R + p.P;
  let src = t * D;
  var ss = 0.0;
  for (var i = lid; i < p.R; i += 64u) {
    let v = ckv[src + i];
    ss += v * v;
  }
  red[lid] = ss;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] += red[lid + s];
    }
    workgroupBarrier();
  }
  let inv = inverseSqrt(red[0] / f32(p.R) + p.eps);
  let pos = positions[t];
  let dst = (pos % p.capacity) * D;
  for (var i = lid; i < p.R; i += 64u) {
    cache[dst + i] = norm_w[i] * (ckv[src + i] * inv);
  }
  for (var j = lid; j < p.P / 2u; j += 64u) {
    let sc = rope_sincos(f32(pos) * inv_freq[j]);
    let c = sc.y * p.attn_factor;
    let s = sc.x * p.attn_factor;
    let x0 = ckv[src + p.R + 2u * j];
    let x1 = ckv[src + p.R + 2u * j + 1u];
    cache[dst + p.R + 2u * j] = x0 * c - x1 * s;
    cache[dst + p.R + 2u * j + 1u] = x1 * c + x0 * s;
  }
}
