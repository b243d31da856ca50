// Per-head matrix-vector products: y[t, h, :] = W[h] · x[t, h, :] (or W[h]ᵀ · x[t, h, :]).
// DeepSeek MLA's absorbed projections (q_nope → latent, latent output → v). One thread per output.

struct Params {
  T: u32,
  H: u32,
  A: u32,         // input dim per head
  B: u32,         // output dim per head
  transpose: u32, // 0: W is [H, B, A]; 1: W is [H, A, B]
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [T, H, A] f32
@group(0) @binding(2) var<storage, read> w: array<f32>;       // [H, B, A] or [H, A, B] f32
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [T, H, B] f32

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  let h = gid.y;
  let t = gid.z;
  if (b >= p.B) { return; }
  let xb = (t * p.H + h) * p.A;
  let wb = h * p.A * p.B;
  var acc = 0.0;
  if (p.transpose == 0u) {
    for (var a = 0u; a < p.A; a++) { acc += w[wb + b * p.A + a] * x[xb + a]; }
  } else {
    for (var a = 0u; a < p.A; a++) { acc += w[wb + a * p.B + b] * x[xb + a]; }
  }
  y[(t * p.H + h) * p.B + b] = acc;
}
