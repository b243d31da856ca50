// Appends T tokens' keys (and values) to a KV cache: token t goes to slot (start + t) % capacity.
// One thread per element of a token's k (or v) row.

struct Params {
  T: u32,
  k_row: u32,    // nKv * hd
  v_row: u32,    // nKv * hdV
  capacity: u32,
  start: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> k_new: array<f32>;       // [T, k_row] f32
@group(0) @binding(2) var<storage, read_write> k_cache: array<f32>; // [capacity, k_row] f32
#if HAS_V
@group(0) @binding(3) var<storage, read> v_new: array<f32>;       // [T, v_row] f32
@group(0) @binding(4) var<storage, read_write> v_cache: array<f32>; // [capacity, v_row] f32
#endif

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  let slot = (p.start + t) % p.capacity;
  if (i < p.k_row) { k_cache[slot * p.k_row + i] = k_new[t * p.k_row + i]; }
#if HAS_V
  if (i < p.v_row) { v_cache[slot * p.v_row + i] = v_new[t * p.v_row + i]; }
#endif
}
