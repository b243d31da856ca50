// Elementwise ops over f32 tensors: add, scale, activation, softcap and the gated linear unit (glu).
// One op per pipeline, picked by a define.
//
// V is vec4<f32> when every row length of the op is a multiple of 4 (the common case: loads and stores
// of 16 bytes), else f32; all indices below count elements of V. A 1-D grid of 256-thread workgroups
// walks the n elements with a grid-stride loop, so any size works with a grid capped by the caller.
// Inputs that share a buffer with the output are bound read_write (${*_ACCESS}); when the output is
// the first input itself (IN_PLACE), the out binding is left out and results go to that input.

alias V = ${V};

struct Params {
  n: u32,       // elements of V to write
  cols: u32,    // glu: I / width(V) (output row length)
  s: f32,       // add: bScale; scale: s; softcap: cap
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, ${A_ACCESS}> a: array<V>;     // [n] f32 (glu: [T, 2I])
#if TWO_INPUTS
@group(0) @binding(2) var<storage, ${B_ACCESS}> b: array<V>;     // [n] f32
#if !IN_PLACE
@group(0) @binding(3) var<storage, read_write> out: array<V>;    // [n] f32
#endif
#elif !IN_PLACE
@group(0) @binding(2) var<storage, read_write> out: array<V>;    // [n] f32 (glu: [T, I])
#endif

fn sigmoid(x: V) -> V {
  return V(1.0) / (V(1.0) + exp(-x));
}

// tanh with its argument clamped: some drivers return NaN for large |x|; tanh(±15) is ±1 in f32.
fn tanh_safe(x: V) -> V {
  return tanh(clamp(x, V(-15.0), V(15.0)));
}

// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7).
fn erf_approx(x: V) -> V {
  let ax = abs(x);
  let t = V(1.0) / (V(1.0) + 0.3275911 * ax);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let y = V(1.0) - poly * exp(-ax * ax);
  return sign(x) * y;
}

fn act(x: V) -> V {
#if ACT_SILU
  return x * sigmoid(x);
#elif ACT_GELU_TANH
  return 0.5 * x * (V(1.0) + tanh_safe(0.7978845608028654 * (x + 0.044715 * x * x * x)));
#elif ACT_GELU_ERF
  return 0.5 * x * (V(1.0) + erf_approx(x * 0.7071067811865476));
#elif ACT_QUICK_GELU
  return x * sigmoid(1.702 * x);
#elif ACT_RELU
  return max(x, V(0.0));
#else
  return x;
#endif
}

fn store(i: u32, v: V) {
#if IN_PLACE
  a[i] = v;
#else
  out[i] = v;
#endif
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * 256u;
  for (var i = gid.x; i < p.n; i += stride) {
#if OP_ADD
    store(i, a[i] + p.s * b[i]);
#elif OP_SCALE
    store(i, p.s * a[i]);
#elif OP_ACT
    store(i, act(a[i]));
#elif OP_SOFTCAP
    store(i, p.s * tanh_safe(a[i] / p.s));
#elif OP_GLU
    let t = i / p.cols;
    let j = i - t * p.cols;
    store(i, act(a[t * 2u * p.cols + j]) * a[t * 2u * p.cols + p.cols + j]);
#endif
  }
}
