// The Params and bindings of a GEMM on int8 x (shaders/matmulInt8.wgsl's entry quantize) against Q4_0 / Q8_0 /
// Q4_K weights: matmulInt8's entry gemm and the int8 subgroup-matrix GEMM (shaders/matmulSubgroupMatrixInt8.wgsl),
// both filled by src/kernels/matmulInt8.ts's int8GemmBindings.

struct Params {
  T: u32,         // rows of x and y (tokens)
  N: u32,         // outputs (rows of this binding of W)
  K: u32,         // inputs, a multiple of 32 (256 for Q4_K)
  has_bias: u32,  // 1 when bias is bound with real data
  row_bytes: u32, // bytes of one row of W
  w_off: u32,     // byte offset of row 0 in w (even; a multiple of 4 for Q4_K)
  x8_off: u32,    // vec4 offset of the x8 words in x8
  sc_off: u32,    // vec4 offset of the x8 scale pairs in x8 (x8_off + T * K / 16)
  y_off: u32,     // element offset of y[0, 0] in y
  b_off: u32,     // element offset of bias[0] in bias
  groups: u32,    // n tiles
  y_stride: u32,  // elements between rows of y (N, or more when W is used in row ranges)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x8: array<vec4<u32>>; // [T * K / 16 + T * K / 64] x as int8 (matmulInt8's entry quantize)
@group(0) @binding(2) var<storage, read> w: array<u32>;        // [N, K] Q4_0, Q8_0 or Q4_K blocks
@group(0) @binding(3) var<storage, read> bias: array<f32>;     // [N] f32 (ignored when has_bias = 0)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // [T, y_stride] f32 (columns 0..N-1 written)
