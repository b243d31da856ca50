// Multi-head latent attention: assembles the absorbed query of each head,
// q_full[t, h] = [q_lat[t, h] (R), rope_interleaved(q[t, h, nope:], pos) (P)], so that
// q_full · cache_row = q_nope · (W_uk · c) + q_pe · k_pe. One thread per output value.

struct Params {
  T: u32,           // tokens
  nH: u32,          // heads
  R: u32,           // kv_lora_rank
  P: u32,           // qk_rope_head_dim
  nope: u32,        // qk_nope_head_dim
  attn_factor: f32, // scales cos and sin
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;              // [T, nH, nope + P] f32
@group(0) @binding(2) var<storage, read> q_lat: array<f32>;          // [T, nH, R] f32
@group(0) @binding(3) var<storage, read> positions: array<u32>;      // [T] u32
@group(0) @binding(4) var<storage, read> inv_freq: array<f32>;       // [P / 2] f32
@group(0) @binding(5) var<storage, read_write> q_full: array<f32>;   // [T, nH, R + P] f32

#include "sincos"

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let D = p.R + p.P;
  let o = gid.x;
  if (o >= p.T * p.nH * D) {
    return;
  }
  let th = o / D; // t * nH + h
  let i = o % D;
  if (i < p.R) {
    q_full[o] = q_lat[th * p.R + i];
    return;
  }
  let j = (i - p.R) / 2u;
  let src = th * (p.nope + p.P) + p.nope + 2u * j;
  let sc = rope_sincos(f32(positions[th / p.nH]) * inv_freq[j]);
  let c = sc.y * p.attn_factor;
  let s = sc.x * p.attn_factor;
  let x0 = q[src];
  let x1 = q[src + 1u];
  q_full[o] = select(x1 * c + x0 * s, x0 * c - x1 * s, ((i - p.R) & 1u) == 0u);
}
