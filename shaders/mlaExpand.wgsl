// MLA prefill in the naive form (keys and values decompressed from the latent cache, then attention with
// per-head K [S, nH, nope + P] and V [S, nH, v]). Three entries, one thread per output value, each built
// with its define (LATENTS, KEYS, ROPE_Q) for its own bindings:
//   latents: c [S, R] = the first R values of cache rows 0 .. S - 1 (the kv_b_proj GEMM's input).
//   keys:    k[s, h] = [kv[s, h, :nope], cache[s, R:]] and v[s, h] = kv[s, h, nope:], from
//            kv [S, nH, nope + v] = c · kv_b_projᵀ.
//   ropeQ:   q [T, nH, nope + P] in place: rope_interleaved of the last P values of each head at pos_t.

struct Params {
  S: u32,           // cache rows used (positions 0 .. S - 1, no wrap)
  R: u32,           // kv_lora_rank
  P: u32,           // qk_rope_head_dim
  nH: u32,          // heads
  nope: u32,        // qk_nope_head_dim
  v: u32,           // v_head_dim
  T: u32,           // query tokens (ropeQ)
  attn_factor: f32, // scales cos and sin (ropeQ)
}

@group(0) @binding(0) var<uniform> p: Params;
#if LATENTS
@group(0) @binding(1) var<storage, read> cache: array<f32>;         // [capacity, 1, R + P] f32
@group(0) @binding(2) var<storage, read_write> c: array<f32>;       // [S, R] f32
#elif KEYS
@group(0) @binding(1) var<storage, read> cache: array<f32>;         // [capacity, 1, R + P] f32
@group(0) @binding(2) var<storage, read> kv: array<f32>;            // [S, nH, nope + v] f32
@group(0) @binding(3) var<storage, read_write> k: array<f32>;       // [S, nH, nope + P] f32
@group(0) @binding(4) var<storage, read_write> v: array<f32>;       // [S, nH, v] f32
#elif ROPE_Q
@group(0) @binding(1) var<storage, read> positions: array<u32>;     // [T] u32
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;      // [P / 2] f32
@group(0) @binding(3) var<storage, read_write> q: array<f32>;       // [T, nH, nope + P] f32

#include "sincos"
#endif

@compute @workgroup_size(256)
fn latents(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.S * p.R) {
    return;
  }
#if LATENTS
  c[i] = cache[(i / p.R) * (p.R + p.P) + i % p.R];
#endif
}

@compute @workgroup_size(256)
fn keys(@builtin(global_invocation_id) gid: vec3<u32>) {
  let kd = p.nope + p.P;
  let i = gid.x;
  if (i < p.S * p.nH * kd) {
    let sh = i / kd; // s * nH + h
    let j = i % kd;
#if KEYS
    if (j < p.nope) {
      k[i] = kv[sh * (p.nope + p.v) + j];
    } else {
      k[i] = cache[(sh / p.nH) * (p.R + p.P) + p.R + j - p.nope];
    }
#endif
  }
#if KEYS
  if (i < p.S * p.nH * p.v) {
    let sh = i / p.v;
    v[i] = kv[sh * (p.nope + p.v) + p.nope + i % p.v];
  }
#endif
}

@compute @workgroup_size(256)
fn ropeQ(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x; // one thread per pair
  let half = p.P / 2u;
  if (i >= p.T * p.nH * half) {
    return;
  }
#if ROPE_Q
  let th = i / half;
  let j = i % half;
  let at = th * (p.nope + p.P) + p.nope + 2u * j;
  let sc = rope_sincos(f32(positions[th / p.nH]) * inv_freq[j]);
  let cs = sc.y * p.attn_factor;
  let sn = sc.x * p.attn_factor;
  let x0 = q[at];
  let x1 = q[at + 1u];
  q[at] = x0 * cs - x1 * sn;
  q[at + 1u] = x1 * cs + x0 * sn;
#endif
}
