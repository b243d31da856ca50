// Rotary position embedding of a step's queries and keys, and the append of its keys and values to the KV
// cache, in one dispatch: q is rotated in place, k is rotated on its way into the cache (k itself is left
// as it is), v is copied. Token t sits at positions[t] and goes to cache slot (start + t) % capacity.
//
// One grid-stride loop over three kinds of items: q pairs (t, head, i < half), then k elements, then v
// elements. A rotated pair is (x[o + i], x[o + i + half]) (neox, HF rotate_half) or (x[o + 2i], x[o + 2i + 1])
// (interleaved, GPT-J), o the first rotated dim; a k element computes the value of its side of its pair,
// with the same operations as the q pairs (and as shaders/rope.wgsl). Angles: f32(position) * invFreq[i],
// cos and sin scaled by the attention factor (YaRN).

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
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;       // [T, n_q, hd] f32, rotated in place
@group(0) @binding(2) var<storage, ${K_ACCESS}> k: array<f32>;      // [T, n_kv, hd] f32
@group(0) @binding(3) var<storage, ${V_ACCESS}> v: array<f32>;      // [T, n_kv, hdv] f32
@group(0) @binding(4) var<storage, read_write> k_cache: array<f32>; // [capacity, n_kv, hd] f32
@group(0) @binding(5) var<storage, read_write> v_cache: array<f32>; // [capacity, n_kv, hdv] f32
@group(0) @binding(6) var<storage, read> positions: array<u32>;     // [T] u32
@group(0) @binding(7) var<storage, read> inv_freq: array<f32>;      // [half] f32

#include "sincos"

// The dims (a, b) of pair i of a head starting at `base`.
fn pair(base: u32, i: u32) -> vec2<u32> {
#if INTERLEAVED
  return vec2<u32>(base + 2u * i, base + 2u * i + 1u);
#else
  return vec2<u32>(base + i, base + i + p.half);
#endif
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * 256u;
  let total = p.q_items + p.k_items + p.v_items;
  for (var n = gid.x; n < total; n += stride) {
    if (n < p.q_items) {
      let i = n % p.half;
      let th = n / p.half; // t * n_q + head
      let sc = rope_sincos(f32(positions[th / p.n_q]) * inv_freq[i]) * p.factor;
      let ab = pair(th * p.hd + p.offset, i);
      let a = q[ab.x];
      let b = q[ab.y];
      q[ab.x] = a * sc.y - b * sc.x;
      q[ab.y] = b * sc.y + a * sc.x;
    } else if (n < p.q_items + p.k_items) {
      let e = n - p.q_items;
      let row = p.n_kv * p.hd;
      let t = e / row;
      let j = e % p.hd; // dim inside the head
      var value = k[e];
      if (j >= p.offset && j < p.offset + 2u * p.half) {
        let r = j - p.offset;
#if INTERLEAVED
        let i = r / 2u;
        let first = r % 2u == 0u;
#else
        let i = r % p.half;
        let first = r < p.half;
#endif
        let sc = rope_sincos(f32(positions[t]) * inv_freq[i]) * p.factor;
        let ab = pair(e - j + p.offset, i);
        let a = k[ab.x];
        let b = k[ab.y];
        value = select(b * sc.y + a * sc.x, a * sc.y - b * sc.x, first);
      }
      k_cache[((p.start + t) % p.capacity) * row + e % row] = value;
    } else {
      let e = n - p.q_items - p.k_items;
      let row = p.n_kv * p.hdv;
      v_cache[((p.start + e / row) % p.capacity) * row + e % row] = v[e];
    }
  }
}
