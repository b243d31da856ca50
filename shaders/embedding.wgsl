// Embedding gather: out[t, :] = table[ids[t], :] * scale, the table in any weight dtype (weights.wgsl).
// A thread writes 4 consecutive values read with load_w4; grid (ceil(H / 256), T). Ids past the table
// give zeros.

struct Params {
  T: u32,         // tokens
  H: u32,         // hidden size (row length)
  V: u32,         // rows of the table
  row_bytes: u32, // bytes of one table row
  w_off: u32,     // byte offset of row 0 in w
  ids_off: u32,   // element offset of ids[0] in ids
  out_off: u32,   // element offset of out[0, 0] in out
  scale: f32,     // multiplier (Gemma: sqrt(H))
  row0: u32,      // id of the table's first row here (a table larger than one binding comes in row ranges)
  last: u32,      // 1 for the range that writes the zero rows of ids past the whole table
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;          // [T] u32 token ids
@group(0) @binding(2) var<storage, read> w: array<u32>;            // [V, H] weight dtype (rows row0..row0+V-1)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;    // [T, H] f32

#include "weights"

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y;
  let k = gid.x * 4u;
  if (t >= p.T || k >= p.H) {
    return;
  }
  let id = ids[p.ids_off + t];
  if (id < p.row0 || (id - p.row0 >= p.V && p.last == 0u)) {
    return; // another row range writes this token
  }
  var v = vec4<f32>(0.0);
  if (id - p.row0 < p.V) {
    v = load_w4(p.w_off + (id - p.row0) * p.row_bytes, k) * p.scale;
  }
  let o = p.out_off + t * p.H + k;
  for (var i = 0u; i < min(4u, p.H - k); i++) {
    out[o + i] = v[i];
  }
}
