enable subgroups;
enable chromium_experimental_subgroup_matrix;
// Offsets of the matrix loads and stores depend on the subgroup (uniform within it, not within the
// workgroup); every call sits in workgroup-uniform control flow.
diagnostic(off, chromium.subgroup_matrix_uniformity);
diagnostic(off, subgroup_uniformity);

// The prefill GEMM on int8 subgroup matrices (tensor cores), for adapters with an i8 x i8 -> i32 config
// (src/gpu/subgroupMatrix.ts): y[t, n] (row stride p.y_stride) = x8[t] · w[n]ᵀ (+ bias[n]), x8 as
// shaders/matmulInt8.wgsl's entry quantize writes it (int8 per row and block of 32 with a scale s and s Σq),
// W in Q4_0, Q8_0 or Q4_K blocks as stored. The arithmetic is matmulInt8's: per block of 32,
//   y += f32(Σ q_x q_w) * s * d   (Q4_K: - s Σq_x * dmin * m)
// with the integer dot products of a block computed as CM x CN result matrices, K = 32 per op.
// Result matrices are opaque (store only) and every block has its own scales, so each block's results go
// through workgroup memory: stored by the subgroup, read back by its lanes, scaled into f32 registers.
// A workgroup of SGY x SGX subgroups computes a BM x BN tile of y, each subgroup TMS x TNS result matrices;
// per K step of KB blocks both operands are staged in workgroup memory as int8 x 4 words, row-major (x rows;
// weight rows, the right matrix column-major). Rows past T read row T - 1 and outputs past N row N - 1 (both
// guarded at the store); blocks past K (a last step of fewer than KB) are zero.
// Defines: CM, CN, CK (the config: 16, 16, 32 on the H200), TMS, TNS, SGY, SGX (the tile), SG (the subgroup
// size, fixed on the adapter), KB (blocks per K step), PADW (words of padding per tile row) and one of
// W_Q4_0 / W_Q8_0 / W_Q4_K.

#include "int8GemmBindings"
#include "weights"
#include "int8Blocks"
#include "subgroupSlot"

const CM: u32 = ${CM};
const CN: u32 = ${CN};
const CK: u32 = ${CK};   // 32: one block per op
const TMS: u32 = ${TMS}; // result matrices per subgroup along T
const TNS: u32 = ${TNS}; // ... along N
const SGY: u32 = ${SGY}; // subgroups along T
const SGX: u32 = ${SGX}; // subgroups along N
const SG: u32 = ${SG};
const KB: u32 = ${KB};   // blocks of 32 per K step
const NSG: u32 = SGY * SGX;
const WG: u32 = SG * NSG;
const BM: u32 = CM * TMS * SGY;
const BN: u32 = CN * TNS * SGX;
const LDW: u32 = 8u * KB + ${PADW}u; // words per tile row in workgroup memory
const RES: u32 = CM * CN;            // elements of a result matrix
const PER_LANE: u32 = RES / SG;      // of them each lane scales
const MATS: u32 = TMS * TNS;

var<workgroup> xs: array<i32, BM * LDW>;          // [BM, LDW] int8 x 4 of the step's blocks of x rows t0 ..
var<workgroup> ws: array<i32, BN * LDW>;          // [BN, LDW] int8 x 4 of the step's blocks of weight rows n0 ..
var<workgroup> xd: array<f32, KB * BM>;           // [KB, BM] s of each row's block
var<workgroup> wd: array<f32, KB * BN>;           // [KB, BN] d of each column's block (Q4_K: d * sc)
#if W_Q4_K
var<workgroup> xm: array<f32, KB * BM>;           // [KB, BM] s Σq of each row's block
var<workgroup> wm: array<f32, KB * BN>;           // [KB, BN] dmin * m of each column's sub-block
#endif
var<workgroup> dots: array<i32, NSG * MATS * RES>; // [subgroup, MATS, CM, CN] one block's integer dot products
// Stages the K step of blocks b0 .. b0 + KB - 1 of both operands and their scales (thread li of WG).
fn stage(li: u32, b0: u32, t0: u32, n0: u32) {
  let blocks = p.K / 32u;
  // x: BM rows x 2 KB vec4s (a block is 8 words, 2 vec4s).
  for (var i = li; i < BM * 2u * KB; i += WG) {
    let r = i / (2u * KB);
    let v = i % (2u * KB);
    var q = vec4<u32>(0u);
    if (b0 + v / 2u < blocks) {
      q = x8[p.x8_off + min(t0 + r, p.T - 1u) * (p.K / 16u) + b0 * 2u + v];
    }
    let at = r * LDW + 4u * v;
    xs[at] = bitcast<i32>(q.x);
    xs[at + 1u] = bitcast<i32>(q.y);
    xs[at + 2u] = bitcast<i32>(q.z);
    xs[at + 3u] = bitcast<i32>(q.w);
  }
  for (var i = li; i < BM * KB; i += WG) {
    let r = i % BM;
    let b = b0 + i / BM;
    var s = vec2<f32>(0.0);
    if (b < blocks) {
      let k = min(t0 + r, p.T - 1u) * blocks + b;
      let s4 = x8[p.sc_off + k / 2u];
      s = bitcast<vec2<f32>>(select(s4.xy, s4.zw, (k & 1u) != 0u));
    }
    xd[i] = s.x;
#if W_Q4_K
    xm[i] = s.y;
#endif
  }
  for (var i = li; i < BN * KB; i += WG) {
    let c = i % BN;
    let b = i / BN;
    var blk = Block(array<u32, 8>(), vec2<f32>(0.0));
    if (b0 + b < blocks) {
      blk = load_block(p.w_off + min(n0 + c, p.N - 1u) * p.row_bytes, b0 + b);
    }
    for (var j = 0u; j < 8u; j++) {
      ws[c * LDW + 8u * b + j] = bitcast<i32>(blk.q[j]);
    }
    wd[i] = blk.dm.x;
#if W_Q4_K
    wm[i] = blk.dm.y;
#endif
  }
}

@compute @workgroup_size(WG)
fn gemm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let tile_n = wg.x + wg.y * nwg.x;
  if (tile_n >= p.groups) {
    return;
  }
  let n0 = tile_n * BN;
  let t0 = wg.z * BM;
  let slot = subgroup_slot();
  let sy = slot / SGX;
  let sx = slot % SGX;
  let mine = slot * MATS * RES;
  let blocks = p.K / 32u;
  var acc = array<f32, MATS * PER_LANE>(); // [result matrix, element lane * PER_LANE + e]
  for (var b0 = 0u; b0 < blocks; b0 += KB) {
    stage(li, b0, t0, n0);
    workgroupBarrier();
    for (var b = 0u; b < KB; b++) {
      var left: array<subgroup_matrix_left<i8, CK, CM>, TMS>;
      var right: array<subgroup_matrix_right<i8, CN, CK>, TNS>;
      // Offsets and strides of int8 matrices in an array<i32> count int8 elements (4 per word).
      for (var i = 0u; i < TMS; i++) {
        left[i] = subgroupMatrixLoad<subgroup_matrix_left<i8, CK, CM>>(&xs, 4u * (((sy * TMS + i) * CM) * LDW + 8u * b), false, 4u * LDW);
      }
      for (var j = 0u; j < TNS; j++) {
        right[j] = subgroupMatrixLoad<subgroup_matrix_right<i8, CN, CK>>(&ws, 4u * (((sx * TNS + j) * CN) * LDW + 8u * b), true, 4u * LDW);
      }
      for (var i = 0u; i < TMS; i++) {
        for (var j = 0u; j < TNS; j++) {
          subgroupMatrixStore(&dots, mine + (i * TNS + j) * RES, subgroupMatrixMultiply<i32>(left[i], right[j]), false, CN);
        }
      }
      workgroupBarrier();
      // Lane l scales elements l * PER_LANE .. + PER_LANE - 1 of each result matrix: part of one row (CN is
      // a multiple of PER_LANE), so one row scale, and consecutive words (vector loads).
      let r_in = (lane * PER_LANE) / CN;
      let c_in = (lane * PER_LANE) % CN;
      for (var i = 0u; i < TMS; i++) {
        let r = b * BM + (sy * TMS + i) * CM + r_in;
        let sr = xd[r];
#if W_Q4_K
        let mr = xm[r];
#endif
        for (var j = 0u; j < TNS; j++) {
          let c0 = b * BN + (sx * TNS + j) * CN + c_in;
          let d0 = mine + (i * TNS + j) * RES + lane * PER_LANE;
          for (var e = 0u; e < PER_LANE; e++) {
            let a = (i * TNS + j) * PER_LANE + e;
#if W_Q4_K
            acc[a] += f32(dots[d0 + e]) * (sr * wd[c0 + e]) - mr * wm[c0 + e];
#else
            acc[a] += f32(dots[d0 + e]) * (sr * wd[c0 + e]);
#endif
          }
        }
      }
      workgroupBarrier();
    }
  }
  for (var i = 0u; i < TMS; i++) {
    for (var j = 0u; j < TNS; j++) {
      for (var e = 0u; e < PER_LANE; e++) {
        let el = lane * PER_LANE + e;
        let t = t0 + (sy * TMS + i) * CM + el / CN;
        let n = n0 + (sx * TNS + j) * CN + el % CN;
        if (t < p.T && n < p.N) {
          y[p.y_off + t * p.y_stride + n] = acc[(i * TNS + j) * PER_LANE + e] + select(0.0, bias[p.b_off + n], p.has_bias == 1u);
        }
      }
    }
  }
}
