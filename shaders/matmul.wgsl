// Matrix multiplication y = x · Wᵀ (+ bias), the layout of torch.nn.Linear: W is [N, K], row n the
// weights of output n.
//
// Tiling: a 16x16 workgroup computes a 16x16 tile of y; x and W tiles of 16 along K are staged in
// workgroup memory, each thread accumulates one output in f32. Edges are guarded, so any T, N, K works.

struct Params {
  T: u32,        // rows of x and y (tokens)
  N: u32,        // outputs
  K: u32,        // inputs
  has_bias: u32, // 1 when bias is bound with real data
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [T, K] f32
@group(0) @binding(2) var<storage, read> w: array<f32>;       // [N, K] f32
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // [N] f32 (ignored when has_bias = 0)
@group(0) @binding(4) var<storage, read_write> y: array<f32>; // [T, N] f32

const TILE: u32 = 16u;
var<workgroup> xs: array<array<f32, 16>, 16>; // [t in tile, k in tile]
var<workgroup> ws: array<array<f32, 16>, 16>; // [n in tile, k in tile]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wg.x * TILE + lid.x;
  let t = wg.y * TILE + lid.y;
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.K; k0 += TILE) {
    let k = k0 + lid.x;
    let tx = wg.y * TILE + lid.y;
    xs[lid.y][lid.x] = select(0.0, x[tx * p.K + k], tx < p.T && k < p.K);
    let nw = wg.x * TILE + lid.y;
    ws[lid.y][lid.x] = select(0.0, w[nw * p.K + k], nw < p.N && k < p.K);
    workgroupBarrier();
    for (var i = 0u; i < TILE; i++) {
      acc += xs[lid.y][i] * ws[lid.x][i];
    }
    workgroupBarrier();
  }
  if (t < p.T && n < p.N) {
    if (p.has_bias == 1u) {
      acc += bias[n];
    }
    y[t * p.N + n] = acc;
  }
}
