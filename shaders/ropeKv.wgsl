// Rotary position embedding of a step's queries and keys, and the append of its keys and values to the KV
// cache, in one dispatch: q is rotated in place, k is rotated on its way into the cache (k itself is left
// as it is), v is copied. Token t sits at positions[t] and goes to cache slot (start + t) % capacity.
//
// One grid-stride loop over three kinds of items: q pairs (t, head, i < half), then k elements, then v
// elements. A rotated pair is (x[o + i], x[o + i + half]) (neox, HF rotate_half) or (x[o + 2i], x[o + 2i + 1])
// (interleaved, GPT-J), o the first rotated dim; a k element computes the value of its side of its pair,
// with the same operations as the q pairs (and as shaders/rope.wgsl). Angles: f32(position) * invFreq[i],
// cos and sin scaled by the attention factor (YaRN).
//
// `normed` also applies the RMSNorm of q and k before the rotation (qwen3, gemma3: one norm per head; OLMoE:
// one per token's whole projection): a workgroup per norm segment (q's then k's), staged in workgroup memory,
// then workgroups of 256 v elements. q is normed and rotated in place; k, normed and rotated, goes to the cache.

struct Params {
  T: u32,
  n_q: u32,       // query heads
  n_kv: u32,      // kv heads
  hd: u32,        // q / k head dim
  hdv: u32,       // v head dim
  half: u32,      // rotaryDim / 2
  offset: u32,    // first rotated dim inside a head
  factor: f32,    // attention factor multiplying cos and sin
  capacity: u32,  // cache slots
  start: u32,     // position of token 0 (its cache slot is start % capacity)
  q_items: u32,   // T * n_q * half
  k_items: u32,   // T * n_kv * hd
  v_items: u32,   // T * n_kv * hdv
  q_len: u32,     // normed: floats per q norm segment (hd, or n_q * hd)
  k_len: u32,     // normed: floats per k norm segment (hd, or n_kv * hd)
  k_off: u32,     // normed: first float of k's norm weight in qk_norm
  eps: f32,       // normed: RMSNorm epsilon
  w_off: f32,     // normed: added to the norm weight (gemma: 1)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;       // [T, n_q, hd] f32, rotated in place
@group(0) @binding(2) var<storage, ${K_ACCESS}> k: array<f32>;      // [T, n_kv, hd] f32
@group(0) @binding(3) var<storage, ${V_ACCESS}> v: array<f32>;      // [T, n_kv, hdv] f32
@group(0) @binding(4) var<storage, read_write> k_cache: array<f32>; // [capacity, n_kv, hd] f32
@group(0) @binding(5) var<storage, read_write> v_cache: array<f32>; // [capacity, n_kv, hdv] f32
@group(0) @binding(6) var<storage, read> positions: array<u32>;     // [T] u32
@group(0) @binding(7) var<storage, read> inv_freq: array<f32>;      // [half] f32
#if NORMED
@group(0) @binding(8) var<storage, read> qk_norm: array<f32>;       // [k_off + k_len] f32: q's weight [q_len] at 0, k's at k_off
#endif

#include "sincos"
#include "ropePair"

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * 256u;
  let total = p.q_items + p.k_items + p.v_items;
  for (var n = gid.x; n < total; n += stride) {
    if (n < p.q_items) {
      let i = n % p.half;
      let th = n / p.half; // t * n_q + head
      let sc = rope_sincos(f32(positions[th / p.n_q]) * inv_freq[i]) * p.factor;
      let ab = rope_pair(th * p.hd + p.offset, i);
      let a = q[ab.x];
      let b = q[ab.y];
      q[ab.x] = rope_turn(a, b, sc, true);
      q[ab.y] = rope_turn(a, b, sc, false);
    } else if (n < p.q_items + p.k_items) {
      let e = n - p.q_items;
      let row = p.n_kv * p.hd;
      let t = e / row;
      let j = e % p.hd; // dim inside the head
      var value = k[e];
      if (j >= p.offset && j < p.offset + 2u * p.half) {
        let side = rope_side(j - p.offset);
        let sc = rope_sincos(f32(positions[t]) * inv_freq[side.i]) * p.factor;
        let ab = rope_pair(e - j + p.offset, side.i);
        value = rope_turn(k[ab.x], k[ab.y], sc, side.first);
      }
      k_cache[((p.start + t) % p.capacity) * row + e % row] = value;
    } else {
      let e = n - p.q_items - p.k_items;
      let row = p.n_kv * p.hdv;
      v_cache[((p.start + e / row) % p.capacity) * row + e % row] = v[e];
    }
  }
}

#if NORMED
const SEG_MAX = ${SEG_MAX}u;
var<workgroup> seg: array<f32, SEG_MAX>; // one norm segment, normed
var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn normed(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let w = wid.y * nwg.x + wid.x;
  let q_segs = p.T * p.n_q * p.hd / p.q_len;
  let k_segs = p.k_items / p.k_len;
  if (w < q_segs + k_segs) {
    let is_q = w < q_segs;
    let s = select(w - q_segs, w, is_q);
    let len = select(p.k_len, p.q_len, is_q);
    let base = s * len;                        // first float of the segment in q or k
    let w_base = select(p.k_off, 0u, is_q);    // its norm weight in qk_norm
    var ss = 0.0;
    for (var j = li; j < len; j += 256u) {
      let x = select(k[base + j], q[base + j], is_q);
      seg[j] = x;
      ss += x * x;
    }
    red[li] = ss;
    workgroupBarrier();
    for (var h = 128u; h > 0u; h >>= 1u) {
      if (li < h) {
        red[li] += red[li + h];
      }
      workgroupBarrier();
    }
    let inv = inverseSqrt(red[0] / f32(len) + p.eps);
    for (var j = li; j < len; j += 256u) {
      seg[j] = seg[j] * inv * (qk_norm[w_base + j] + p.w_off);
    }
    workgroupBarrier();
    let row = select(p.n_kv, p.n_q, is_q) * p.hd; // floats per token
    for (var j = li; j < len; j += 256u) {
      let e = base + j;                        // element of q or k
      let d = e % p.hd;                        // dim inside the head
      let t = e / row;
      var value = seg[j];
      if (d >= p.offset && d < p.offset + 2u * p.half) {
        let side = rope_side(d - p.offset);
        let sc = rope_sincos(f32(positions[t]) * inv_freq[side.i]) * p.factor;
        let ab = rope_pair(j - d + p.offset, side.i);
        value = rope_turn(seg[ab.x], seg[ab.y], sc, side.first);
      }
      if (is_q) {
        q[e] = value;
      } else {
        k_cache[((p.start + t) % p.capacity) * row + e % row] = value;
      }
    }
    return;
  }
  let e = (w - q_segs - k_segs) * 256u + li;
  if (e < p.v_items) {
    let row = p.n_kv * p.hdv;
    v_cache[((p.start + e / row) % p.capacity) * row + e % row] = v[e];
  }
}
#endif
