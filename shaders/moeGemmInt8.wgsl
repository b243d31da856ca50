// MoE prefill experts as grouped GEMMs on integer dot products (src/kernels/moeGemmInt8.ts): per expert e,
// the (token, slot) pairs routed to it (list/counts from moeBucket) are the rows of a GEMM against e's
// weights in Q4_0 / Q8_0 / Q4_K, with the K loop of shaders/matmulInt8Tile.wgsl (x as int8 per row and block of
// 32, from matmulInt8's entry quantize). Grid (column tiles, ceil(T / BM) row tiles, E); row tiles past an
// expert's count exit at once. WORKLIST: grid (column tiles, items, 1), dispatched indirectly, item y =
// (expert, row tile) from shaders/moeTiles.wgsl, so that empty experts and tiles cost nothing.
//
// GATE_UP: x8 holds x [T, H] (one row per token); a tile's BN columns are BN / 2 gate rows and the same up
//   rows, interleaved per vec4 as (g_i, g_i+1, u_i, u_i+1), so that each thread applies the activation to
//   its own registers: out = act [T*K, I] f32, act[pair, i] = act_fn(g + bias) * (u + bias)
//   (ACT: silu, ACT_GELU gelu tanh, ACT_CLAMP gpt-oss's clamped SwiGLU, as shaders/moeGateUp.wgsl).
// DOWN: x8 holds act [T*K, I] (one row per pair); out = ypairs [T*K, H], ypairs[pair, h] =
//   rw[pair] * (down_e[h] · act[pair] + bias[e, h]); moeBucket's combine sums the K slots of a token.

struct Params {
  K: u32,         // inputs per row (GATE_UP: H; DOWN: I)
  N: u32,         // outputs (GATE_UP: I; DOWN: H)
  KE: u32,        // experts per token
  row_bytes: u32, // bytes of one weight row of K values
  w_off: u32,     // byte offset of expert 0's row 0 in w
  has_bias: u32,  // 1 when bias holds data
  b_off: u32,     // element offset of bias[0, 0] in bias
  cap: u32,       // row capacity of each expert's list (T)
  x8_off: u32,    // vec4 offset of the x8 words
  sc_off: u32,    // vec4 offset of the x8 scale pairs
  limit: f32,     // ACT_CLAMP clamp limit
  alpha: f32,     // ACT_CLAMP sigmoid slope
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x8: array<vec4<u32>>;    // int8 rows (matmulInt8 quantize layout)
@group(0) @binding(2) var<storage, read> w: array<u32>;           // GATE_UP [E, 2I, H], DOWN [E, H, I] blocks
@group(0) @binding(3) var<storage, read> bias: array<f32>;        // GATE_UP [E, 2I], DOWN [E, H] f32
@group(0) @binding(4) var<storage, read_write> out: array<f32>;   // GATE_UP act [T*K, I]; DOWN ypairs [T*K, H]
@group(0) @binding(5) var<storage, read> counts: array<u32>;      // [E] u32
@group(0) @binding(6) var<storage, read> list: array<u32>;        // [E, cap] u32 pair ids
@group(0) @binding(7) var<storage, read> rw: array<f32>;          // [T*K] f32 routing weights (DOWN)
@group(0) @binding(8) var<storage, read> work: array<u32>;        // WORKLIST: [2 * items] (expert, row tile)

#include "weights"
#include "matmulInt8Tile"

const NONE: u32 = 0xffffffffu;

var<workgroup> rows: array<u32, BM>; // pair of each tile row (NONE past the expert's count)
var<workgroup> row_count: u32;
var<private> tile_e: u32;  // expert
var<private> tile_c0: u32; // GATE_UP: first intermediate index of the tile; DOWN: first output row

fn tile_x_row(r: u32) -> u32 {
  let pair = rows[min(r, BM - 1u)];
  let q = select(pair, rows[0], pair == NONE); // rows past the count repeat the first (stores are skipped)
#if GATE_UP
  return q / p.KE;
#else
  return q;
#endif
}

fn tile_w_byte(c: u32) -> u32 {
#if GATE_UP
  let i = min(tile_c0 + 2u * (c / 4u) + (c & 1u), p.N - 1u);
  let row = tile_e * 2u * p.N + select(i, p.N + i, (c & 2u) != 0u);
#else
  let row = tile_e * p.N + min(tile_c0 + c, p.N - 1u);
#endif
  return p.w_off + row * p.row_bytes;
}

fn bias_of(i: u32) -> f32 {
  return select(0.0, bias[p.b_off + i], p.has_bias == 1u);
}

fn activate(g0: f32, u0: f32) -> f32 {
#if ACT_GELU
  let g = g0;
  let z = clamp(0.7978845608028654 * (g + 0.044715 * g * g * g), -15.0, 15.0);
  return 0.5 * g * (1.0 + tanh(z)) * u0;
#elif ACT_CLAMP
  let g = min(g0, p.limit);
  let u = clamp(u0, -p.limit, p.limit);
  return g / (1.0 + exp(-p.alpha * g)) * (u + 1.0);
#else
  return g0 / (1.0 + exp(-g0)) * u0;
#endif
}

@compute @workgroup_size(WG)
fn gemm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
#if WORKLIST
  let e = work[2u * wg.y];
  let r0 = work[2u * wg.y + 1u] * BM;
#else
  let e = wg.z;
  let r0 = wg.y * BM;
#endif
  let cnt = counts[e];
  if (li == 0u) {
    row_count = cnt;
  }
  for (var r = li; r < BM; r += WG) {
    rows[r] = select(NONE, list[e * p.cap + r0 + r], r0 + r < cnt);
  }
#if WORKLIST
  workgroupBarrier(); // every item has rows: no exit
#else
  if (r0 >= workgroupUniformLoad(&row_count)) {
    return;
  }
#endif
  tile_e = e;
#if GATE_UP
  tile_c0 = wg.x * (BN / 2u);
#else
  tile_c0 = wg.x * BN;
#endif
  let acc = tile_accumulate(li);
  let tx = li % TX;
  let ty = li / TX;
  for (var m = 0u; m < TM; m++) {
    let pair = rows[ty * TM + m];
    if (pair == NONE) {
      continue;
    }
    for (var v = 0u; v < TNV; v++) {
      let a = acc[m * TNV + v];
#if GATE_UP
      let i = tile_c0 + 2u * (tx * TNV + v);
      let bb = e * 2u * p.N;
      if (i < p.N) {
        out[pair * p.N + i] = activate(a.x + bias_of(bb + i), a.z + bias_of(bb + p.N + i));
      }
      if (i + 1u < p.N) {
        out[pair * p.N + i + 1u] = activate(a.y + bias_of(bb + i + 1u), a.w + bias_of(bb + p.N + i + 1u));
      }
#else
      let s = rw[pair];
      for (var c = 0u; c < 4u; c++) {
        let h = tile_c0 + tx * TN + 4u * v + c;
        if (h < p.N) {
          out[pair * p.N + h] = s * (a[c] + bias_of(e * p.N + h));
        }
      }
#endif
    }
  }
}
