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
@group(0) @binding(1) var<storage, read> x8: array<vec4<u32>>; // [T * K / 16 + T * K / 64] x as int8 (entry quantize)
@group(0) @binding(2) var<storage, read> w: array<u32>;        // [N, K] Q4_0, Q8_0 or Q4_K blocks
@group(0) @binding(3) var<storage, read> bias: array<f32>;     // [N] f32 (ignored when has_bias = 0)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // [T, y_stride] f32 (columns 0..N-1 written)

#include "weights"

const BM: u32 = ${BM};   // tokens per tile
const BN: u32 = ${BN};   // outputs per tile
const TM: u32 = ${TM};   // tokens per thread, a multiple of 4
const TNV: u32 = ${TNV}; // vec4s of outputs per thread
const TN: u32 = 4u * TNV;
const KB: u32 = ${KB};   // blocks of 32 per K step
const KW: u32 = 8u * KB; // words (int8 x 4) per row per K step
const TX: u32 = BN / TN; // threads along N
const WG: u32 = (BM / TM) * TX;

var<workgroup> xs: array<vec4<u32>, KW * BM / 4u>; // [KW, BM] x words, 4 tokens per vec4
var<workgroup> ws: array<vec4<u32>, KW * BN / 4u>; // [KW, BN] weight words, 4 outputs per vec4
var<workgroup> xd: array<vec4<f32>, KB * BM / 4u>; // [KB, BM] s of each token's block
var<workgroup> wd: array<vec4<f32>, KB * BN / 4u>; // [KB, BN] d of each output's block (Q4_K: d * sc)
#if W_Q4_K
var<workgroup> xm: array<vec4<f32>, KB * BM / 4u>; // [KB, BM] s Σq of each token's block
var<workgroup> wm: array<vec4<f32>, KB * BN / 4u>; // [KB, BN] dmin * m of each output's sub-block
#endif

// Block blk (32 values) of the row at byte row_byte: its 8 words of int8 x 4 (word j: values 4j .. 4j + 3)
// and its (d, dmin * m).
struct Block {
  q: array<u32, 8>,
  dm: vec2<f32>,
}

fn load_block(row_byte: u32, blk: u32) -> Block {
  var r: Block;
#if W_Q4_0
  // { f16 d; u8 qs[16] } at an even byte: value j < 16 is the low nibble of qs[j], 16 + j the high one.
  let a = row_byte + blk * 18u;
  let i = a >> 2u;
  let odd = (a & 2u) != 0u; // the block starts at 2 mod 4: qs are the whole words i + 1 .. i + 4
  var words: array<u32, 5>;
  for (var j = 0u; j < 5u; j++) { words[j] = w[i + j]; }
  let d = unpack2x16float(words[0]);
  r.dm = vec2<f32>(select(d.x, d.y, odd), 0.0);
  for (var j = 0u; j < 4u; j++) {
    let q = select((words[j] >> 16u) | (words[j + 1u] << 16u), words[j + 1u], odd);
    // Each nibble b (0..15) to b - 8 as int8: (b + 0x78) ^ 0x80, no carry between bytes.
    r.q[j] = ((q & 0x0f0f0f0fu) + 0x78787878u) ^ 0x80808080u;
    r.q[4u + j] = (((q >> 4u) & 0x0f0f0f0fu) + 0x78787878u) ^ 0x80808080u;
  }
#elif W_Q8_0
  // { f16 d; i8 qs[32] } at an even byte.
  let a = row_byte + blk * 34u;
  let i = a >> 2u;
  let odd = (a & 2u) != 0u;
  var words: array<u32, 9>;
  for (var j = 0u; j < 9u; j++) { words[j] = w[i + j]; }
  let d = unpack2x16float(words[0]);
  r.dm = vec2<f32>(select(d.x, d.y, odd), 0.0);
  for (var j = 0u; j < 8u; j++) { r.q[j] = select((words[j] >> 16u) | (words[j + 1u] << 16u), words[j + 1u], odd); }
#else
  // Sub-block s = blk % 8 of super-block blk / 8 (4-byte aligned): nibble s % 2 of quant bytes 32 (s / 2) .. + 31.
  let a = row_byte + (blk / 8u) * 144u;
  let s = blk % 8u;
  let qi = (a + 16u + 32u * (s / 2u)) >> 2u;
  let sh = 4u * (s % 2u);
  for (var j = 0u; j < 8u; j++) { r.q[j] = (w[qi + j] >> sh) & 0x0f0f0f0fu; }
  r.dm = w_q4k_scale(a, s);
#endif
  return r;
}

// Word-major index of word kw of row r (of R rows): vec4 index and component.
fn put(kw: u32, r: u32, rows: u32) -> vec2<u32> {
  let e = kw * rows + r;
  return vec2<u32>(e / 4u, e % 4u);
}

// One K step's share of a thread of both tiles, as loaded from global memory: XI vec4s of x words, SI
// (s, s Σq) pairs, WI weight blocks (items past the tile's count are ignored).
const XI: u32 = (BM * KW / 4u + WG - 1u) / WG;
const SI: u32 = (BM * KB + WG - 1u) / WG;
const WI: u32 = (BN * KB + WG - 1u) / WG;
struct Staged {
  xq: array<vec4<u32>, XI>,
  xs: array<vec2<f32>, SI>,
  wb: array<Block, WI>,
}

// Loads the K step of blocks b0 .. b0 + KB - 1 of the tile at (t0, n0): item e = li + WG * it of
//   x words: BM * KW / 4 vec4s, token e / (KW / 4), vec4 e % (KW / 4) of the step;
//   x scales: BM * KB pairs, token e % BM, block e / BM;
//   weights: BN * KB blocks, output e % BN, block e / BN.
fn fetch(li: u32, t0: u32, n0: u32, b0: u32) -> Staged {
  let blocks = p.K / 32u;
  var st: Staged;
  for (var it = 0u; it < XI; it++) {
    let e = li + WG * it;
    let v = e % (KW / 4u);
    let t = min(t0 + e / (KW / 4u), p.T - 1u);
    st.xq[it] = vec4<u32>(0u);
    if (e < BM * KW / 4u && b0 + v / 2u < blocks) {
      st.xq[it] = x8[p.x8_off + t * (p.K / 16u) + b0 * 2u + v];
    }
  }
  for (var it = 0u; it < SI; it++) {
    let e = li + WG * it;
    let t = min(t0 + e % BM, p.T - 1u);
    let b = b0 + e / BM;
    let i = t * blocks + b; // block index in the scale pairs
    st.xs[it] = vec2<f32>(0.0);
    if (e < BM * KB && b < blocks) {
      let s4 = x8[p.sc_off + i / 2u];
      st.xs[it] = bitcast<vec2<f32>>(select(s4.xy, s4.zw, (i & 1u) != 0u));
    }
  }
  for (var it = 0u; it < WI; it++) {
    let e = li + WG * it;
    let b = b0 + e / BN;
    st.wb[it] = Block(array<u32, 8>(), vec2<f32>(0.0));
    if (e < BN * KB && b < blocks) {
      st.wb[it] = load_block(p.w_off + min(n0 + e % BN, p.N - 1u) * p.row_bytes, b);
    }
  }
  return st;
}

// Stores what fetch loaded into the workgroup tiles.
fn stage(li: u32, st: Staged) {
  for (var it = 0u; it < XI; it++) {
    let e = li + WG * it;
    if (e < BM * KW / 4u) {
      let r = e / (KW / 4u);
      let v = e % (KW / 4u);
      for (var c = 0u; c < 4u; c++) {
        let at = put(4u * v + c, r, BM);
        xs[at.x][at.y] = st.xq[it][c];
      }
    }
  }
  for (var it = 0u; it < SI; it++) {
    let e = li + WG * it;
    if (e < BM * KB) {
      let at = put(e / BM, e % BM, BM);
      xd[at.x][at.y] = st.xs[it].x;
#if W_Q4_K
      xm[at.x][at.y] = st.xs[it].y;
#endif
    }
  }
  for (var it = 0u; it < WI; it++) {
    let e = li + WG * it;
    if (e < BN * KB) {
      let r = e % BN;
      let b = e / BN;
      for (var j = 0u; j < 8u; j++) {
        let at = put(8u * b + j, r, BN);
        ws[at.x][at.y] = st.wb[it].q[j];
      }
      let at = put(b, r, BN);
      wd[at.x][at.y] = st.wb[it].dm.x;
#if W_Q4_K
      wm[at.x][at.y] = st.wb[it].dm.y;
#endif
    }
  }
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
  let tx = li % TX;
  let ty = li / TX;
  let blocks = p.K / 32u;
  var acc = array<vec4<f32>, TM * TNV>(); // [token i][vec4 v of outputs]
#if PREFETCH
  // The next K step is loaded into registers while this one is computed.
  var st = fetch(li, t0, n0, 0u);
#endif
  for (var b0 = 0u; b0 < blocks; b0 += KB) {
#if PREFETCH
    stage(li, st);
    workgroupBarrier();
    if (b0 + KB < blocks) {
      st = fetch(li, t0, n0, b0 + KB);
    }
#else
    stage(li, fetch(li, t0, n0, b0));
    workgroupBarrier();
#endif
    for (var b = 0u; b < KB; b++) {
      // Explicitly zeroed: a `var` without initializer inside a loop is not reset each iteration on every backend.
      var dots = array<vec4<i32>, TM * TNV>();
      for (var j = 0u; j < 8u; j++) {
        let kw = 8u * b + j;
        var xa: array<vec4<u32>, TM / 4u>;
        for (var i = 0u; i < TM / 4u; i++) { xa[i] = xs[(kw * BM + ty * TM) / 4u + i]; }
        var wb: array<vec4<u32>, TNV>;
        for (var v = 0u; v < TNV; v++) { wb[v] = ws[(kw * BN + tx * TN) / 4u + v]; }
        for (var i = 0u; i < TM; i++) {
          let a = xa[i / 4u][i % 4u];
          for (var v = 0u; v < TNV; v++) {
            dots[i * TNV + v] += vec4<i32>(dot4I8Packed(a, wb[v].x), dot4I8Packed(a, wb[v].y),
                                           dot4I8Packed(a, wb[v].z), dot4I8Packed(a, wb[v].w));
          }
        }
      }
      for (var i = 0u; i < TM; i++) {
        let s = xd[(b * BM + ty * TM) / 4u + i / 4u][i % 4u];
#if W_Q4_K
        let sq = xm[(b * BM + ty * TM) / 4u + i / 4u][i % 4u];
#endif
        for (var v = 0u; v < TNV; v++) {
          let d = wd[(b * BN + tx * TN) / 4u + v];
#if W_Q4_K
          acc[i * TNV + v] += vec4<f32>(dots[i * TNV + v]) * (s * d) - sq * wm[(b * BN + tx * TN) / 4u + v];
#else
          acc[i * TNV + v] += vec4<f32>(dots[i * TNV + v]) * (s * d);
#endif
        }
      }
    }
    workgroupBarrier();
  }
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
