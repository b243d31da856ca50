// Read-bandwidth probe (the roofline of bench/kernelLab.ts): every thread walks the buffer with a
// grid-wide stride of vec4<u32> loads and sums them; the sum is written only when it equals a value that
// never occurs, so the loads cannot be removed. Grid (groups) of 256 threads.

struct Params {
  count: u32, // vec4<u32> elements in src
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;   // [count] vec4<u32>
@group(0) @binding(2) var<storage, read_write> sink: array<u32>;  // [1] u32

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * 256u;
  var acc = vec4<u32>(0u);
  for (var i = gid.x; i < p.count; i += stride) {
    acc += src[i];
  }
  let s = acc.x ^ acc.y ^ acc.z ^ acc.w;
  if (s == 0x9e3779b9u) {
    sink[0] = s;
  }
}
