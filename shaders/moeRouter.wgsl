// The router of a MoE block for one decode token, with the RMSNorm before it: x = h * rsqrt(mean(h²) + eps)
// * (w + w_off) and logits[e] = router[e] · x (+ bias[e]), in one dispatch (src/kernels/moeRouter.ts).
//
// Grid ceil(E / R): a workgroup takes R router rows. Each recomputes the norm's scale from h (H values,
// L2-resident) with a tree reduction, then its threads stride over the row in vec4s, the normed x computed
// on the fly; workgroup 0 also writes x for the experts. The R row sums meet in one tree reduction.

struct Params {
  H4: u32,       // H / 4
  E: u32,        // experts (router rows)
  h: f32,        // H
  eps: f32,
  w_off: f32,    // added to the norm weight (gemma-style 1, else 0)
  has_bias: u32, // 1: bias holds the router's bias (gpt-oss)
}

const R: u32 = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> h: array<vec4<f32>>;         // [H / 4] vec4 f32: the residual stream
@group(0) @binding(2) var<storage, read> nw: array<vec4<f32>>;        // [H / 4] vec4 f32: the norm weight
@group(0) @binding(3) var<storage, read> router: array<vec4<f32>>;    // [E, H / 4] vec4 f32
@group(0) @binding(4) var<storage, read> bias: array<f32>;            // [E] f32 (ignored when has_bias = 0)
@group(0) @binding(5) var<storage, read_write> x: array<vec4<f32>>;   // [H / 4] vec4 f32: the normed h
@group(0) @binding(6) var<storage, read_write> logits: array<f32>;    // [E] f32

var<workgroup> red: array<vec4<f32>, 256>;

// Sum of every thread's v (each lane of the vec4 its own sum), returned to every thread.
fn reduce(li: u32, v: vec4<f32>) -> vec4<f32> {
  red[li] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (li < s) {
      red[li] += red[li + s];
    }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier(); // red free again
  return total;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  var ss = 0.0;
  for (var i = li; i < p.H4; i += 256u) {
    let v = h[i];
    ss += dot(v, v);
  }
  let inv = inverseSqrt(reduce(li, vec4<f32>(ss, 0.0, 0.0, 0.0)).x / p.h + p.eps);
  let e0 = wg.x * R;
  var rows: array<u32, R>;
  for (var r = 0u; r < R; r++) {
    rows[r] = min(e0 + r, p.E - 1u) * p.H4;
  }
  var acc = vec4<f32>(0.0);
  for (var i = li; i < p.H4; i += 256u) {
    let xv = h[i] * inv * (nw[i] + vec4<f32>(p.w_off));
    if (wg.x == 0u) {
      x[i] = xv;
    }
    acc[0] += dot(router[rows[0] + i], xv);
    acc[1] += dot(router[rows[1] + i], xv);
    acc[2] += dot(router[rows[2] + i], xv);
    acc[3] += dot(router[rows[3] + i], xv);
  }
  let sums = reduce(li, acc);
  if (li < R && e0 + li < p.E) {
    logits[e0 + li] = sums[li] + select(0.0, bias[e0 + li], p.has_bias == 1u);
  }
}
