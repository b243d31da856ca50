// MoE decode experts, second half, on integer dot products (src/kernels/moeDecode.ts): out[t, h] =
// Σ_j rw[t, j] · (down_e[h] · act[t*K + j] + bias[e, h]), e = ids[t, j], the K experts' down GEMVs and the
// weighted combine in one pass, reading only the selected experts' rows (Q4_0 / Q8_0 / Q4_K as stored,
// shaders/moeDecodeUnits.wgsl) and act as moeDecodeGateUp's Q8_OUT writes it (int8 per block of 32).
//
// Grid (ceil(H / (G * R)), T): the 256 threads are G = 256 / L groups of L lanes, group g takes R output
// rows; lane l the units l, l + L, ... of the K * (I / 32 / UB) units of its rows (all K experts' rows of
// an output in one strided list), U of them per step, each weighted by its slot's routing weight. act is read from global
// memory (the same words for every row: cache hits after the first). Writes out (+= when accumulate).
// SHARED: the shared expert (ws [1, H, S*I]) as S more slots of width I per token, weight 1: the unit list
// is the K routed experts' K * upr units, then S * upr shared ones; slot s's unit u is unit s * upr + u of
// the shared row, its act pair T*K + t*S + s (as moeDecodeGateUp's SHARED writes it).

struct Params {
  K: u32,          // experts per token
  H: u32,          // output rows
  I: u32,          // row length, a multiple of 32 (256 for Q4_K)
  row_bytes: u32,  // bytes of one weight row
  w_off: u32,      // byte offset of expert 0's row 0 in w
  has_bias: u32,   // 1 when bias holds data
  b_off: u32,      // element offset of bias[0, 0] in bias
  sc_off: u32,     // vec4 offset of the scale pairs in act
  y_off: u32,      // element offset of out[0, 0] in out
  accumulate: u32, // 1 adds to out instead of overwriting
  routed: u32,     // SHARED: routed pairs T*K (the shared slots' pairs follow)
  S: u32,          // SHARED: shared slots per token
  ws_off: u32,     // SHARED: byte offset of the shared expert's row 0 in ws
  ws_row_bytes: u32, // SHARED: bytes of one shared row (S*I values)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> act: array<vec4<u32>>;    // [P, I / 32, 2] int8 x 4 words, then [P, I / 32] (s, s Σq) pairs, 2 per vec4 (P = T*K, SHARED: + T*S)
@group(0) @binding(2) var<storage, read> ids: array<u32>;          // [T, K] u32
@group(0) @binding(3) var<storage, read> rw: array<f32>;           // [T, K] f32 routing weights
@group(0) @binding(4) var<storage, read> w: array<u32>;            // [E, H, I] Q4_0 / Q8_0 / Q4_K blocks
@group(0) @binding(5) var<storage, read> bias: array<f32>;         // [E, H] f32
@group(0) @binding(6) var<storage, read_write> out: array<f32>;    // [T, H] f32
#if SHARED
@group(0) @binding(7) var<storage, read> ws: array<u32>;           // [1, H, S*I] shared down, as w
#endif

#include "moeDecodeUnits"

const L: u32 = ${L};     // lanes per row
const G: u32 = 256u / L; // row groups
const R: u32 = ${R};     // rows per group
const U: u32 = ${U};     // units per lane per step

var<workgroup> part: array<f32, 256u * R>; // [L lanes, G * R rows] partial sums
var<workgroup> sel_e: array<u32, 64>;       // [K] the token's experts
var<workgroup> sel_w: array<f32, 64>;       // [K] and their routing weights

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = wg.y;
  let lane = li % L;
  let g = li / L;
  let h0 = wg.x * G * R + g * R;
  let nb = p.I / 32u;      // act blocks per pair
  let upr = nb / UB;       // units per weight row
  if (li < p.K) {
    sel_e[li] = ids[t * p.K + li];
    sel_w[li] = rw[t * p.K + li];
  }
  workgroupBarrier();
  var acc: array<f32, R>;
  for (var r = 0u; r < R; r++) { acc[r] = 0.0; }
#if SHARED
  let total = (p.K + p.S) * upr;
#else
  let total = p.K * upr;
#endif
  // U units per lane per step, all their loads issued before the arithmetic (units past the end: the last
  // one again, weighted 0).
  for (var n0 = lane; n0 < total; n0 += U * L) {
    var row_byte: array<u32, U * R>;
    var a: array<Unit, U * R>;
    var xq: array<XQ, U>;
    var xs: array<XS, U>;
    var sw: array<f32, U>;
    var un: array<u32, U>;
    for (var v = 0u; v < U; v++) {
      let n = min(n0 + v * L, total - 1u);
      let j = n / upr;
      let u = n % upr;
#if SHARED
      let sh = j >= p.K; // shared slot sj
#else
      let sh = false;
#endif
      let sj = j - p.K;
      let jr = select(j, 0u, sh);
      let pair = select(t * p.K + j, p.routed + t * p.S + sj, sh);
      let e = sel_e[jr];
      un[v] = select(u, sj * upr + u, sh);
      sw[v] = select(0.0, select(sel_w[jr], 1.0, sh), n0 + v * L < total);
      for (var r = 0u; r < R; r++) {
        let h = min(h0 + r, p.H - 1u);
        row_byte[v * R + r] = select(p.w_off + (e * p.H + h) * p.row_bytes, p.ws_off + h * p.ws_row_bytes, sh);
        a[v * R + r] = load_unit(row_byte[v * R + r], un[v], sh);
      }
      for (var b = 0u; b < UB; b++) {
        let blk = pair * nb + u * UB + b;
        xq[v][2u * b] = act[2u * blk];
        xq[v][2u * b + 1u] = act[2u * blk + 1u];
        let s4 = act[p.sc_off + blk / 2u];
        xs[v][b] = bitcast<vec2<f32>>(select(s4.xy, s4.zw, (blk & 1u) != 0u));
      }
    }
    for (var v = 0u; v < U; v++) {
      for (var r = 0u; r < R; r++) { acc[r] += sw[v] * unit_dot(a[v * R + r], row_byte[v * R + r], un[v], xq[v], xs[v]); }
    }
  }
  for (var r = 0u; r < R; r++) { part[lane * G * R + g * R + r] = acc[r]; }
  workgroupBarrier();
  if (li < G * R) {
    let h = wg.x * G * R + li;
    if (h < p.H) {
      var v = 0.0;
      for (var l = 0u; l < L; l++) { v += part[l * G * R + li]; }
      if (p.has_bias == 1u) {
        for (var j = 0u; j < p.K; j++) {
          v += sel_w[j] * bias[p.b_off + sel_e[j] * p.H + h];
        }
      }
      if (p.accumulate == 1u) {
        v += out[p.y_off + t * p.H + h];
      }
      out[p.y_off + t * p.H + h] = v;
    }
  }
}
