enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// Offsets of the matrix loads and stores depend on the subgroup (uniform within it, not within the
// workgroup); every call sits in workgroup-uniform control flow.
diagnostic(off, chromium.subgroup_matrix_uniformity);
diagnostic(off, subgroup_uniformity);

// The prefill GEMM on subgroup matrices (cooperative matrices: tensor cores), for adapters that expose
// them (src/gpu/subgroupMatrix.ts): y[t, n] (row stride p.y_stride) = x[t] · w[n]ᵀ (+ bias[n]), x f32,
// w any dtype of shaders/weights.wgsl with K a multiple of 32. Each workgroup computes a BM x BN tile of y:
// per K step of 32 it converts its x rows to f16 and dequantizes its weight rows to f16 once, in
// workgroup memory; its SGY x SGX subgroups each multiply-accumulate TMS x TNS result matrices of
// CM x CN (the adapter's f16 -> f32 config, K CK per op) in f32. The results go through workgroup memory
// so the edges of T and N and the bias are handled per element.
// Defines: CM, CN, CK (the config), TMS, TNS, SGY, SGX (the tile), SG (the subgroup size), PAD (f16s of
// padding per tile row) and one weight define of shaders/weights.wgsl.

struct Params {
  T: u32,
  N: u32,
  K: u32,
  has_bias: u32,
  row_bytes: u32, // bytes per weight row
  w_off: u32,     // byte offset of row 0 in w
  x_off: u32,     // vec4 offset of x
  y_off: u32,     // f32 offset of y
  b_off: u32,     // f32 offset of bias
  groups: u32,    // column tiles (the grid folds them over x and y)
  y_stride: u32,  // f32s between rows of y
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>; // [T, K / 4] from p.x_off
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [N] rows of p.row_bytes (stored layout) from byte p.w_off
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // [N] from p.b_off, read when p.has_bias
@group(0) @binding(4) var<storage, read_write> y: array<f32>; // [T, p.y_stride] from p.y_off

#include "weights"
#include "subgroupSlot"

const CM: u32 = ${CM};
const CN: u32 = ${CN};
const CK: u32 = ${CK};
const TMS: u32 = ${TMS};  // result matrices per subgroup along T
const TNS: u32 = ${TNS};  // ... along N
const SGY: u32 = ${SGY};  // subgroups along T
const SGX: u32 = ${SGX};  // subgroups along N
const SG: u32 = ${SG};
const WG: u32 = SG * SGY * SGX;
const BM: u32 = CM * TMS * SGY;
const BN: u32 = CN * TNS * SGX;
const BK: u32 = 32u;
const LD: u32 = BK + ${PAD}u; // f16s per tile row in workgroup memory

var<workgroup> xs: array<f16, BM * LD>;          // [BM, LD] x rows t0 .. t0 + BM, k0 .. k0 + BK (zero past T)
var<workgroup> ws: array<f16, BN * LD>;          // [BN, LD] weight rows n0 .. n0 + BN (zero past N): the right matrix, column-major
var<workgroup> outs: array<f32, CM * CN * SGY * SGX>; // [SGY * SGX, CM, CN] one result matrix per subgroup, for the epilogue

@compute @workgroup_size(WG)
fn gemm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let tile_n = wg.x + wg.y * nwg.x;
  if (tile_n >= p.groups) {
    return;
  }
  let n0 = tile_n * BN;
  let t0 = wg.z * BM;
  let sg = subgroup_slot();
  let sy = sg / SGX;
  let sx = sg % SGX;
  var acc: array<subgroup_matrix_result<f32, CN, CM>, TMS * TNS>;
  for (var i = 0u; i < TMS * TNS; i++) {
    acc[i] = subgroup_matrix_result<f32, CN, CM>();
  }
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var i = li; i < BM * BK / 4u; i += WG) {
      let r = i / (BK / 4u);
      let c = (i % (BK / 4u)) * 4u;
      var v = vec4<f32>(0.0);
      if (t0 + r < p.T) {
        v = x[p.x_off + ((t0 + r) * p.K + k0 + c) / 4u];
      }
      let at = r * LD + c;
      xs[at] = f16(v.x);
      xs[at + 1u] = f16(v.y);
      xs[at + 2u] = f16(v.z);
      xs[at + 3u] = f16(v.w);
    }
    for (var i = li; i < BN * (BK / W_CHUNK); i += WG) {
      let r = i / (BK / W_CHUNK);
      let c = (i % (BK / W_CHUNK)) * W_CHUNK;
      var chunk: array<vec4<f32>, W_CHUNK_VEC4>;
      if (n0 + r < p.N) {
        chunk = load_w_chunk(p.w_off + (n0 + r) * p.row_bytes, k0 + c);
      }
      for (var j = 0u; j < W_CHUNK_VEC4; j++) {
        let at = r * LD + c + 4u * j;
        ws[at] = f16(chunk[j].x);
        ws[at + 1u] = f16(chunk[j].y);
        ws[at + 2u] = f16(chunk[j].z);
        ws[at + 3u] = f16(chunk[j].w);
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk += CK) {
      var left: array<subgroup_matrix_left<f16, CK, CM>, TMS>;
      var right: array<subgroup_matrix_right<f16, CN, CK>, TNS>;
      for (var i = 0u; i < TMS; i++) {
        left[i] = subgroupMatrixLoad<subgroup_matrix_left<f16, CK, CM>>(&xs, ((sy * TMS + i) * CM) * LD + kk, false, LD);
      }
      for (var j = 0u; j < TNS; j++) {
        right[j] = subgroupMatrixLoad<subgroup_matrix_right<f16, CN, CK>>(&ws, ((sx * TNS + j) * CN) * LD + kk, true, LD);
      }
      for (var i = 0u; i < TMS; i++) {
        for (var j = 0u; j < TNS; j++) {
          acc[i * TNS + j] = subgroupMatrixMultiplyAccumulate(left[i], right[j], acc[i * TNS + j]);
        }
      }
    }
    workgroupBarrier();
  }
  let mine = sg * CM * CN;
  for (var i = 0u; i < TMS; i++) {
    for (var j = 0u; j < TNS; j++) {
      subgroupMatrixStore(&outs, mine, acc[i * TNS + j], false, CN);
      workgroupBarrier();
      let tr = t0 + (sy * TMS + i) * CM;
      let nc = n0 + (sx * TNS + j) * CN;
      for (var e = lane; e < CM * CN; e += SG) {
        let t = tr + e / CN;
        let n = nc + e % CN;
        if (t < p.T && n < p.N) {
          var v = outs[mine + e];
          if (p.has_bias != 0u) {
            v += bias[p.b_off + n];
          }
          y[p.y_off + t * p.y_stride + n] = v;
        }
      }
      workgroupBarrier();
    }
  }
}
