// MoE prefill bookkeeping, on the GPU (no readback).
// Entry `bucket`: one workgroup per expert e scans ids [T*K] in chunks of 256, flags pairs routed to e,
//   and compacts them in order with a workgroup prefix sum: list[e, 0..count) = pair ids, counts[e] = count.
// Entry `combine`: y[t, h] (+)= Σ_j ypairs[t*K + j, h], one thread per output.

struct Params {
  T: u32,          // tokens
  K: u32,          // experts per token
  H: u32,          // hidden size (combine)
  cap: u32,        // row capacity of each expert's list (T)
  accumulate: u32, // combine: 1 adds to y
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;             // [T, K] u32
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;    // [E] u32
@group(0) @binding(3) var<storage, read_write> list: array<u32>;      // [E, cap] u32
@group(0) @binding(4) var<storage, read> ypairs: array<f32>;          // [T*K, H] f32 (combine)
@group(0) @binding(5) var<storage, read_write> y: array<f32>;         // [T, H] f32 (combine)

var<workgroup> scan: array<u32, 256>;

@compute @workgroup_size(256)
fn bucket(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let e = wg.x;
  let n = p.T * p.K;
  var total = 0u;
  for (var base = 0u; base < n; base += 256u) {
    let idx = base + lid;
    let flag = select(0u, 1u, idx < n && ids[min(idx, n - 1u)] == e);
    scan[lid] = flag;
    workgroupBarrier();
    for (var s = 1u; s < 256u; s <<= 1u) {
      var v = 0u;
      if (lid >= s) {
        v = scan[lid - s];
      }
      workgroupBarrier();
      scan[lid] += v;
      workgroupBarrier();
    }
    if (flag == 1u) {
      list[e * p.cap + total + scan[lid] - 1u] = idx;
    }
    total += scan[255];
    workgroupBarrier();
  }
  if (lid == 0u) {
    counts[e] = total;
  }
}

@compute @workgroup_size(256)
fn combine(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o = gid.x;
  if (o >= p.T * p.H) {
    return;
  }
  let t = o / p.H;
  let h = o % p.H;
  var v = select(0.0, y[o], p.accumulate == 1u);
  for (var j = 0u; j < p.K; j++) {
    v += ypairs[(t * p.K + j) * p.H + h];
  }
  y[o] = v;
}
