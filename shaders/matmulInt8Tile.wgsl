// The K loop of an integer-dot GEMM tile, shared by shaders/matmulInt8.wgsl (entry gemm: the arithmetic is
// described there) and shaders/moeGemmInt8.wgsl (a grouped GEMM that gathers its x rows by a list and its
// weight rows by an expert): tile rows and columns come from the includer. Included (#include "matmulInt8Tile") after "weights" by a
// shader that declares
//   defines BM, BN, TM, TNV, KB (the tile), one of W_Q4_0 / W_Q8_0 / W_Q4_K, PREFETCH (optional)
//   p.K (inputs, a multiple of 32; 256 for Q4_K), p.x8_off, p.sc_off (vec4 offsets of the x8 words and
//     scale pairs, as src/kernels/matmulInt8.ts's quantizeX8 writes them)
//   var<storage, read> x8: array<vec4<u32>>;  var<storage, read> w: array<u32>;
//   fn tile_x_row(r: u32) -> u32    the row of x8 that row r (< BM) of the tile reads (a valid row)
//   fn tile_w_byte(c: u32) -> u32   the byte of the weight row that column c (< BN) of the tile reads
// and calls tile_accumulate(li) in uniform control flow: thread li = ty * TX + tx gets acc[i * TNV + v], the
// TM x TN outputs of tile rows ty * TM + i and columns tx * TN + 4 v + (0..3).

const BM: u32 = ${BM};   // rows per tile
const BN: u32 = ${BN};   // columns per tile
const TM: u32 = ${TM};   // rows per thread, a multiple of 4
const TNV: u32 = ${TNV}; // vec4s of columns per thread
const TN: u32 = 4u * TNV;
const KB: u32 = ${KB};   // blocks of 32 per K step
const KW: u32 = 8u * KB; // words (int8 x 4) per row per K step
const TX: u32 = BN / TN; // threads along N
const WG: u32 = (BM / TM) * TX;

var<workgroup> xs: array<vec4<u32>, KW * BM / 4u>; // [KW, BM] x words, 4 rows per vec4
var<workgroup> ws: array<vec4<u32>, KW * BN / 4u>; // [KW, BN] weight words, 4 columns per vec4
var<workgroup> xd: array<vec4<f32>, KB * BM / 4u>; // [KB, BM] s of each row's block
var<workgroup> wd: array<vec4<f32>, KB * BN / 4u>; // [KB, BN] d of each column's block (Q4_K: d * sc)
#if W_Q4_K
var<workgroup> xm: array<vec4<f32>, KB * BM / 4u>; // [KB, BM] s Σq of each row's block
var<workgroup> wm: array<vec4<f32>, KB * BN / 4u>; // [KB, BN] dmin * m of each column's sub-block
#endif

#include "int8Blocks"

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

// Loads the K step of blocks b0 .. b0 + KB - 1 of the tile: item e = li + WG * it of
//   x words: BM * KW / 4 vec4s, row e / (KW / 4), vec4 e % (KW / 4) of the step;
//   x scales: BM * KB pairs, row e % BM, block e / BM;
//   weights: BN * KB blocks, column e % BN, block e / BN.
fn fetch(li: u32, b0: u32) -> Staged {
  let blocks = p.K / 32u;
  var st: Staged;
  for (var it = 0u; it < XI; it++) {
    let e = li + WG * it;
    let v = e % (KW / 4u);
    st.xq[it] = vec4<u32>(0u);
    if (e < BM * KW / 4u && b0 + v / 2u < blocks) {
      st.xq[it] = x8[p.x8_off + tile_x_row(e / (KW / 4u)) * (p.K / 16u) + b0 * 2u + v];
    }
  }
  for (var it = 0u; it < SI; it++) {
    let e = li + WG * it;
    let b = b0 + e / BM;
    st.xs[it] = vec2<f32>(0.0);
    if (e < BM * KB && b < blocks) {
      let i = tile_x_row(e % BM) * blocks + b;
      let s4 = x8[p.sc_off + i / 2u];
      st.xs[it] = bitcast<vec2<f32>>(select(s4.xy, s4.zw, (i & 1u) != 0u));
    }
  }
  for (var it = 0u; it < WI; it++) {
    let e = li + WG * it;
    let b = b0 + e / BN;
    st.wb[it] = Block(array<u32, 8>(), vec2<f32>(0.0));
    if (e < BN * KB && b < blocks) {
      st.wb[it] = load_block(tile_w_byte(e % BN), b);
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

fn tile_accumulate(li: u32) -> array<vec4<f32>, TM * TNV> {
  let tx = li % TX;
  let ty = li / TX;
  let blocks = p.K / 32u;
  var acc = array<vec4<f32>, TM * TNV>();
#if PREFETCH
  // The next K step is loaded into registers while this one is computed.
  var st = fetch(li, 0u);
#endif
  for (var b0 = 0u; b0 < blocks; b0 += KB) {
#if PREFETCH
    stage(li, st);
    workgroupBarrier();
    if (b0 + KB < blocks) {
      st = fetch(li, b0 + KB);
    }
#else
    stage(li, fetch(li, b0));
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
  return acc;
}
