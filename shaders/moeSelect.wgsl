// Expert selections of one group of experts [e0, e0 + count), for expert stacks larger than one storage
// binding, which run group by group: a selection inside the group gets its id relative to e0 and keeps its
// weight; one outside points at the group's first expert with weight 0 (it adds nothing).

struct Params {
  n: u32,     // T * K selections
  e0: u32,    // first expert of the group
  count: u32, // experts in the group
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;           // [T, K] u32
@group(0) @binding(2) var<storage, read> weights: array<f32>;       // [T, K] f32
@group(0) @binding(3) var<storage, read_write> group_ids: array<u32>;     // [T, K] u32
@group(0) @binding(4) var<storage, read_write> group_weights: array<f32>; // [T, K] f32

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.n) { return; }
  let e = ids[i];
  let inside = e >= p.e0 && e < p.e0 + p.count;
  group_ids[i] = select(0u, e - p.e0, inside);
  group_weights[i] = select(0.0, weights[i], inside);
}
