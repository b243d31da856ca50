// MoE decode experts, first half, on integer dot products (src/kernels/moeDecode.ts): for each (token t,
// slot j) pair = t*K + j routed to e = ids[pair], act[pair, i] = act_fn(gate_e[i] · x_t + b) * (up_e[i] · x_t + b),
// reading only the selected experts' rows, Q4_0 / Q8_0 / Q4_K as stored (shaders/moeDecodeUnits.wgsl).
//
// Grid (ceil(I / 32), P), P = T*K pairs (SHARED: + T*S): a workgroup takes one pair and 32 intermediate indices (a block of act), i.e.
// 64 weight rows. x_t is quantized once per workgroup to int8 per block of 32 into workgroup memory. The
// 256 threads are G = 256 / L groups of L lanes; group g takes RG = 64 / G rows (RG / 2 gate rows and their
// up rows), lane l the units l, l + L, ... of each (all RG rows' words loaded before the arithmetic, the
// first ones before x is quantized); the L partial sums of a row meet in workgroup memory.
// Q8_OUT: act is written as the down GEMV reads it, int8 per block of 32 (the block this workgroup owns):
//   words [P, I / 32, 8] (4 int8 each), then from word sc_off the (s, s Σq) f32 pairs [P, I / 32, 2].
// Otherwise act is [P, I] f32 (for moeDown's f32 `combine`).
// ACT: silu, ACT_GELU gelu (tanh), ACT_CLAMP gpt-oss's clamped SwiGLU (as shaders/moeGateUp.wgsl).
// ROUTE: the routing of shaders/moeRoute.wgsl for softmax routers without groups or a selection bias, done
// by every workgroup from the router logits (E <= 256): expert i's rank = the logits above its own (equal:
// lower ids first), the k of rank < k chosen. Slot j's expert is chosen[j]; the workgroups of block 0 also
// write ids and weights for the down GEMV: mode 0 softmax over all experts, mode 2 softmax over the k chosen
// (renormalised softmax, or softmax after top-k), times scale.
// SHARED: the shared expert (ws, intermediate size S*I) as S more slots of width I per token, weight 1: the
// pairs past the routed T*K, pair T*K + t*S + s, take gate rows s*I + i and up rows S*I + s*I + i of ws
// (no routing, no bias), and write act at that pair.

struct Params {
  K: u32,         // experts per token
  H: u32,         // row length, a multiple of 32 (256 for Q4_K)
  I: u32,         // expert intermediate size
  row_bytes: u32, // bytes of one weight row
  w_off: u32,     // byte offset of expert 0's row 0 in w
  has_bias: u32,  // 1 when bias holds data
  b_off: u32,     // element offset of bias[0, 0] in bias
  x_off: u32,     // vec4 offset of x[0, 0] in x
  sc_off: u32,    // Q8_OUT: word offset of the scale pairs in act
  limit: f32,     // ACT_CLAMP clamp limit
  alpha: f32,     // ACT_CLAMP sigmoid slope
  E: u32,         // ROUTE: experts
  mode: u32,      // ROUTE: 0 softmax over all experts, 2 softmax over the chosen
  scale: f32,     // ROUTE: multiplies the weights
  routed: u32,    // SHARED: routed pairs T*K (the shared slots' pairs follow)
  S: u32,         // SHARED: shared slots per token
  ws_off: u32,    // SHARED: byte offset of the shared expert's row 0 in ws
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;      // [T, H / 4] vec4 f32
#if ROUTE
@group(0) @binding(2) var<storage, read> logits: array<f32>;       // [T, E] f32 router logits
#else
@group(0) @binding(2) var<storage, read> ids: array<u32>;          // [T, K] u32
#endif
@group(0) @binding(3) var<storage, read> w: array<u32>;            // [E, 2I, H] Q4_0 / Q8_0 / Q4_K blocks
@group(0) @binding(4) var<storage, read> bias: array<f32>;         // [E, 2I] f32
@group(0) @binding(5) var<storage, read_write> act: array<u32>;    // Q8_OUT: int8 blocks + scales; else [P, I] f32 bits
#if ROUTE
@group(0) @binding(6) var<storage, read_write> ids_out: array<u32>;     // [T, K] u32 chosen experts
@group(0) @binding(7) var<storage, read_write> weights_out: array<f32>; // [T, K] f32 their weights
#endif
#if SHARED
#if ROUTE
@group(0) @binding(8) var<storage, read> ws: array<u32>;           // [1, 2*S*I, H] shared gate | up, as w
#else
@group(0) @binding(6) var<storage, read> ws: array<u32>;           // [1, 2*S*I, H] shared gate | up, as w
#endif
#endif

#include "moeDecodeUnits"

const L: u32 = ${L};     // lanes per row
const G: u32 = 256u / L; // row groups
const RG: u32 = 64u / G; // rows per group
const XB: u32 = ${XB};   // blocks of 32 in x (H / 32)

var<workgroup> xw: array<vec4<u32>, 2u * XB>; // [XB, 2] int8 x 4 words of x's blocks
var<workgroup> xsc: array<vec2<f32>, XB>;     // [XB] (s, s Σq)
var<workgroup> part: array<f32, 64u * L>;     // [L lanes, 64 rows] partial sums
var<workgroup> rows: array<f32, 64>;          // [64] row sums: group g's gate rows at g*RG + r, up at + RG/2
var<workgroup> vals: array<f32, 32>;          // [32] the act block (Q8_OUT)

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

#if ROUTE
const NEG: f32 = -3.0e38;
var<workgroup> lg: array<f32, 256>;   // [E] logits of the token, NEG past E; then the exp sums
var<workgroup> chosen: array<u32, 64>; // [K] experts by rank

// Expert of slot j for token t (every thread, after the routing's barriers); block 0 writes ids and weights.
fn route(t: u32, j: u32, li: u32, first: bool) -> u32 {
  var l = NEG;
  if (li < p.E) {
    l = logits[t * p.E + li];
  }
  lg[li] = l;
  workgroupBarrier();
  if (li < p.E) {
    var r = 0u;
    for (var f = 0u; f < p.E; f++) {
      let o = lg[f];
      r += select(0u, 1u, o > l || (o == l && f < li));
    }
    if (r < p.K) {
      chosen[r] = li;
    }
  }
  workgroupBarrier();
  let e = chosen[j];
  if (first) {
    let mx = lg[chosen[0]];
    let w = exp(lg[e] - mx);
    var total = 0.0;
    if (p.mode == 2u) {
      for (var c = 0u; c < p.K; c++) {
        total += exp(lg[chosen[c]] - mx);
      }
    }
    workgroupBarrier();
    if (p.mode == 0u) {
      lg[li] = select(0.0, exp(l - mx), li < p.E);
      workgroupBarrier();
      for (var h = 128u; h > 0u; h >>= 1u) {
        if (li < h) {
          lg[li] += lg[li + h];
        }
        workgroupBarrier();
      }
      total = lg[0];
    }
    if (li == 0u) {
      ids_out[t * p.K + j] = e;
      weights_out[t * p.K + j] = w / total * p.scale;
    }
  }
  return e;
}
#endif

fn bias_of(i: u32) -> f32 {
  return select(0.0, bias[p.b_off + i], p.has_bias == 1u);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let pair = wg.y;
#if SHARED
  let sh = pair >= p.routed; // a shared slot: uniform in the workgroup, so the routing's barriers stay uniform
  let q = pair - p.routed;
  let t = select(pair / p.K, q / p.S, sh);
  let s = q % p.S;
#else
  let sh = false;
  let t = pair / p.K;
  let s = 0u;
#endif
  var e = 0u;
  if (!sh) {
#if ROUTE
    e = route(t, pair % p.K, li, wg.x == 0u);
#else
    e = ids[pair];
#endif
  }
  let i0 = wg.x * 32u;
  let lane = li % L;
  let g = li / L;
  var row_byte: array<u32, RG>;
  for (var r = 0u; r < RG; r++) {
    let i = min(i0 + g * (RG / 2u) + r % (RG / 2u), p.I - 1u);
    let up = r >= RG / 2u;
    let routed_row = e * 2u * p.I + select(i, p.I + i, up);
    let shared_row = s * p.I + select(i, p.S * p.I + i, up);
    row_byte[r] = select(p.w_off + routed_row * p.row_bytes, p.ws_off + shared_row * p.row_bytes, sh);
  }
  // The first units' words are requested before x is quantized: their loads overlap the encoding.
  let units = XB / UB;
  var a: array<Unit, RG>;
  for (var r = 0u; r < RG; r++) { a[r] = load_unit(row_byte[r], min(lane, units - 1u), sh); }

  for (var b = li; b < XB; b += 256u) {
    var v: array<vec4<f32>, 8>;
    let v0 = p.x_off + t * (p.H / 4u) + 8u * b;
    for (var i = 0u; i < 8u; i++) { v[i] = x[v0 + i]; }
    let xb = quantize_block(v);
    xw[2u * b] = xb.q[0];
    xw[2u * b + 1u] = xb.q[1];
    xsc[b] = xb.s;
  }
  workgroupBarrier();

  var acc: array<f32, RG>;
  for (var r = 0u; r < RG; r++) { acc[r] = 0.0; }
  for (var u = lane; u < units; u += L) {
    if (u > lane) {
      for (var r = 0u; r < RG; r++) { a[r] = load_unit(row_byte[r], u, sh); }
    }
    var xq: XQ;
    var xs: XS;
    for (var b = 0u; b < UB; b++) {
      xq[2u * b] = xw[2u * (u * UB + b)];
      xq[2u * b + 1u] = xw[2u * (u * UB + b) + 1u];
      xs[b] = xsc[u * UB + b];
    }
    for (var r = 0u; r < RG; r++) { acc[r] += unit_dot(a[r], row_byte[r], u, xq, xs); }
  }
  for (var r = 0u; r < RG; r++) { part[lane * 64u + g * RG + r] = acc[r]; }
  workgroupBarrier();
  if (li < 64u) {
    var s = 0.0;
    for (var l = 0u; l < L; l++) { s += part[l * 64u + li]; }
    rows[li] = s;
  }
  workgroupBarrier();
  let c = li; // act index i0 + c of the block, for li < 32
  let i = i0 + c;
  var y = 0.0;
  if (c < 32u && i < p.I) {
    let slot = (c / (RG / 2u)) * RG + c % (RG / 2u);
    let bb = e * 2u * p.I;
    let bg = select(bias_of(bb + i), 0.0, sh);
    let bu = select(bias_of(bb + p.I + i), 0.0, sh);
    y = activate(rows[slot] + bg, rows[slot + RG / 2u] + bu);
  }
#if Q8_OUT
  if (c < 32u) {
    vals[c] = y;
  }
  workgroupBarrier();
  if (li < 8u) {
    var m = 0.0;
    for (var k = 0u; k < 32u; k++) {
      m = max(m, abs(vals[k]));
    }
    let inv = select(0.0, 127.0 / m, m > 0.0);
    var qsum = 0.0;
    for (var k = 0u; k < 32u; k++) {
      qsum += round(vals[k] * inv);
    }
    let v = vec4<f32>(vals[4u * li], vals[4u * li + 1u], vals[4u * li + 2u], vals[4u * li + 3u]);
    let blk = pair * (p.I / 32u) + wg.x;
    act[blk * 8u + li] = pack4xI8(vec4<i32>(round(v * inv)));
    if (li == 0u) {
      act[p.sc_off + 2u * blk] = bitcast<u32>(m / 127.0);
      act[p.sc_off + 2u * blk + 1u] = bitcast<u32>(m / 127.0 * qsum);
    }
  }
#else
  if (c < 32u && i < p.I) {
    act[pair * p.I + i] = bitcast<u32>(y);
  }
#endif
}
