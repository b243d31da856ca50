// Pixel shuffle (Idefics3's connector): each s x s block of a tile's h x w grid of D-vectors becomes one
// row of s * s * D values, blocks row by row, the block's vectors row by row within it:
// out[t, k * wo + j, (di * s + dj) * D + e] = x[t, (k * s + di) * w + j * s + dj, e]. One thread per output
// value; grid (ceil(cols / 64), rows).

struct Params {
  rows: u32,    // output rows: tiles * ho * wo
  cols: u32,    // s * s * D
  D: u32,       // input row length
  s: u32,       // scale factor
  w: u32,       // grid width of a tile (input rows per grid row)
  wo: u32,      // w / s
  blocks: u32,  // ho * wo: output rows per tile
  x_off: u32,   // element offset of x[0, 0] in x
  out_off: u32, // element offset of out[0, 0] in out
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // [tiles * h * w, D] f32
@group(0) @binding(2) var<storage, read_write> out: array<f32>;   // [tiles * ho * wo, s * s * D] f32

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.y;
  let c = gid.x;
  if (r >= p.rows || c >= p.cols) {
    return;
  }
  let tile = r / p.blocks;
  let b = r % p.blocks;
  let k = b / p.wo;
  let j = b % p.wo;
  let blk = c / p.D;
  let e = c % p.D;
  let di = blk / p.s;
  let dj = blk % p.s;
  let src = tile * p.blocks * p.s * p.s + (k * p.s + di) * p.w + j * p.s + dj;
  out[p.out_off + r * p.cols + c] = x[p.x_off + src * p.D + e];
}
