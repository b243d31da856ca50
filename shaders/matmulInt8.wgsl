// Prefill matmul on integer dot products: y[T, N] = x[T, K] · W[N, K]ᵀ (+ bias[N]), W in Q4_0, Q8_0 or
// Q4_K GGUF blocks as stored (K a multiple of 32, of 256 for Q4_K), x f32, for many tokens at once.
//
// Entry `quantize` (QUANTIZE): x to int8 per row and block of 32 values, as llama.cpp's q8_1: a scale
// s = max|x| / 127 and q = round(x / s), so that x = s * q within s / 2. One thread per block. The result
// ("x8", src/kernels/matmulInt8.ts), in one u32 buffer:
//   words [t * K / 4 + j]:                  q of x[t, 4j .. 4j + 3], 4 int8 per word (pack4xI8)
//   f32 pairs at words T * K / 4 + 2 * i:   (s, s * Σ q) of block i = t * K / 32 + b
//
// Entry `gemm` (GEMM): a workgroup of (BM / TM) * (BN / TN) threads computes a BM (tokens) x BN (outputs)
// tile of y, each thread a TM x TN block of it in registers (TM consecutive tokens, TN consecutive
// outputs). Per step of KB blocks of 32 along K, both operands are staged in workgroup memory as int8 x 4
// words, word-major ([word][token], [word][output]) so that a thread reads its TM tokens' and TN outputs'
// words as vec4s: x8 words as they are, weight quants unpacked from their blocks (Q4_0 nibbles - 8, Q8_0
// bytes, Q4_K nibbles of a sub-block), with a scale per block and token (s, s Σq) and per block and output
// (d; Q4_K: d * sc and dmin * m). Each block of 32 is 8 dot4I8Packed per output into an i32, then
//   y += f32(Σ q_x q_w) * s * d   (Q4_K: - s Σq_x * dmin * m)
// so y = Σ_k W[n, k] * s q[t, k] exactly up to f32 rounding: the only approximation is x's int8.
// The K loop (staging, dot products) is shaders/matmulInt8Tile.wgsl, shared with the MoE grouped GEMMs.
// Grid: n tiles on x (folded onto y past the per-dimension limit), token tiles on z. Rows past T read
// row T - 1 and outputs past N read row N - 1 (both guarded at the store); blocks past K (a last K step
// of fewer than KB blocks) are zero.

#if QUANTIZE
struct Params {
  T: u32,      // rows of x
  K: u32,      // values per row, a multiple of 32
  x_off: u32,  // element offset of x[0, 0] in x (a multiple of 4 with X_VEC4)
  x8_off: u32, // word offset of the x8 layout in x8
}

@group(0) @binding(0) var<uniform> p: Params;
#if X_VEC4
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>; // [T, K] f32
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [T, K] f32
#endif
@group(0) @binding(2) var<storage, read_write> x8: array<u32>; // [T * K / 4 + T * K / 16] words: int8 x 4, then (s, s Σq) per block

fn x4(i: u32) -> vec4<f32> {
#if X_VEC4
  return x[i / 4u];
#else
  return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
#endif
}

@compute @workgroup_size(256)
fn quantize(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let blk = (wg.x + wg.y * nwg.x) * 256u + li; // block t * K / 32 + b
  if (blk >= p.T * (p.K / 32u)) {
    return;
  }
  let e0 = p.x_off + 32u * blk;
  var xv: array<vec4<f32>, 8>;
  var m = 0.0;
  for (var i = 0u; i < 8u; i++) {
    xv[i] = x4(e0 + 4u * i);
    let a = abs(xv[i]);
    m = max(m, max(max(a.x, a.y), max(a.z, a.w)));
  }
  let inv = select(0.0, 127.0 / m, m > 0.0);
  var sum = vec4<i32>(0);
  for (var i = 0u; i < 8u; i++) {
    let q = clamp(vec4<i32>(round(xv[i] * inv)), vec4<i32>(-127), vec4<i32>(127));
    sum += q;
    x8[p.x8_off + 8u * blk + i] = pack4xI8(q);
  }
  let s = m / 127.0;
  let at = p.x8_off + 8u * p.T * (p.K / 32u) + 2u * blk;
  x8[at] = bitcast<u32>(s);
  x8[at + 1u] = bitcast<u32>(s * f32(sum.x + sum.y + sum.z + sum.w));
}
#endif

#if GEMM
#include "int8GemmBindings"
#include "weights"
#include "matmulInt8Tile"

// The tile's rows and columns for matmulInt8Tile's K loop: rows past T read row T - 1 and outputs past N row N - 1.
var<private> tile_t0: u32;
var<private> tile_n0: u32;

fn tile_x_row(r: u32) -> u32 {
  return min(tile_t0 + r, p.T - 1u);
}

fn tile_w_byte(c: u32) -> u32 {
  return p.w_off + min(tile_n0 + c, p.N - 1u) * p.row_bytes;
}

@compute @workgroup_size(WG)
fn gemm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let tile_n = wg.x + wg.y * nwg.x;
  if (tile_n >= p.groups) {
    return;
  }
  let n0 = tile_n * BN;
  let t0 = wg.z * BM;
  tile_t0 = t0;
  tile_n0 = n0;
  let tx = li % TX;
  let ty = li / TX;
  let acc = tile_accumulate(li); // [token i][vec4 v of outputs]
  for (var i = 0u; i < TM; i++) {
    let t = t0 + ty * TM + i;
    if (t < p.T) {
      for (var v = 0u; v < TNV; v++) {
        for (var c = 0u; c < 4u; c++) {
          let n = n0 + tx * TN + 4u * v + c;
          if (n < p.N) {
            y[p.y_off + t * p.y_stride + n] = acc[i * TNV + v][c] + select(0.0, bias[p.b_off + n], p.has_bias == 1u);
          }
        }
      }
    }
  }
}
#endif
