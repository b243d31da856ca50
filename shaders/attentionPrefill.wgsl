// Attention of a chunk of query rows (prefill) over a KV cache: tiled flash-attention.
//
// Query t sits at position pos = start + t and sees keys lo..pos (lo = pos + 1 - window for a sliding
// window, else 0); position j lives in cache slot j % capacity. The rows of a kv head are the (t, g)
// pairs of its G = nH / nKv query heads, r = t * G + g, so that a tile of rows shares every K/V tile it
// loads (GQA/MQA/MLA). One workgroup of 128 threads takes BQ = 16 rows and walks the keys that any of
// them can see (tiles outside every row's window are never visited) in tiles of BK = 32:
//   S = Q Kᵀ over D in slabs of DS = 32 (Q and K slabs staged in workgroup memory), thread (row, sub)
//   computes S[row, sub + 8 j], j < 4; scale, softcap, causal/window mask;
//   online softmax per row (the 8 threads of a row keep the same running max and sum);
//   O += P V over Dv in slabs of VS = 32 (V slab staged), thread (row, sub) owns dims sub + 8 i, i < 4,
//   of every slab, in registers.
// f32 throughout. Sinks (gpt-oss) join the denominator only, at the final normalisation.

struct Params {
  T: u32,          // query rows
  nH: u32,         // query heads
  nKv: u32,        // kv heads
  D: u32,          // q/k head dim
  Dv: u32,         // v head dim (output)
  v_stride: u32,   // floats per cache row of V: nKv * Dv, or nKv * D when V is read from K (MLA)
  capacity: u32,   // cache slots
  start: u32,      // position of query row 0
  window: u32,     // sliding window, 0 = full causal
  has_sinks: u32,  // 1: sinks[h] joins the softmax denominator
  scale: f32,      // applied to q·k
  softcap: f32,    // cap * tanh(s / cap) when > 0
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;         // [T, nH, D] f32
@group(0) @binding(2) var<storage, read> kc: array<f32>;        // [capacity, nKv, D] f32
@group(0) @binding(3) var<storage, read> vc: array<f32>;        // [capacity, v_stride] f32 (head kvh at kvh * Dv, or kvh * D)
@group(0) @binding(4) var<storage, read> sinks: array<f32>;     // [nH] f32 (ignored unless has_sinks)
@group(0) @binding(5) var<storage, read_write> out: array<f32>; // [T, nH, Dv] f32

const WG: u32 = 128u;
const BQ: u32 = 16u;
const BK: u32 = 32u;
const DS: u32 = 32u;
const VS: u32 = 32u;
const NVS: u32 = ${NVS}u; // V slabs: ceil(Dv / VS)
const NEG: f32 = -3.0e38;

var<workgroup> qsh: array<f32, 512>;  // [BQ, DS] slab of Q
var<workgroup> ksh: array<f32, 1056>; // [BK, DS + 1] slab of K (padded against bank conflicts)
var<workgroup> psh: array<f32, 512>;  // [BQ, BK] scores, then probabilities
var<workgroup> vsh: array<f32, 1024>; // [BK, VS] slab of V

fn capped(s: f32) -> f32 {
  if (p.softcap > 0.0) {
    return p.softcap * tanh(clamp(s / p.softcap, -15.0, 15.0));
  }
  return s;
}

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let kvh = wg.y;
  let G = p.nH / p.nKv;
  let rows = p.T * G;
  let r0 = wg.x * BQ;
  let v_head = kvh * (p.v_stride / p.nKv);

  // Keys any row of the tile can see: from the first row's window start to the last row's position.
  let p_first = p.start + r0 / G;
  let p_last = p.start + (min(r0 + BQ, rows) - 1u) / G;
  var k_lo = 0u;
  if (p.window > 0u && p_first + 1u > p.window) {
    k_lo = p_first + 1u - p.window;
  }
  let k_hi = p_last + 1u;

  let row = lid / 8u;
  let sub = lid % 8u;
  let r = r0 + row;
  let row_ok = r < rows;
  let t = r / G;
  let h = kvh * G + r % G;
  let pos = p.start + t;

  var m = NEG;
  var l = 0.0;
  var acc: array<f32, ${ACC}>; // [NVS, 4]
  for (var i = 0u; i < NVS * 4u; i++) {
    acc[i] = 0.0;
  }

  for (var kb = k_lo; kb < k_hi; kb += BK) {
    var s = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    for (var d0 = 0u; d0 < p.D; d0 += DS) {
      for (var i = 0u; i < 4u; i++) {
        let idx = lid + i * WG;
        let rr = r0 + idx / DS;
        let d = d0 + idx % DS;
        var x = 0.0;
        if (rr < rows && d < p.D) {
          x = q[((rr / G) * p.nH + kvh * G + rr % G) * p.D + d];
        }
        qsh[idx] = x;
      }
      for (var i = 0u; i < 8u; i++) {
        let idx = lid + i * WG;
        let kk = idx / DS;
        let d = d0 + idx % DS;
        let kp = kb + kk;
        var x = 0.0;
        if (kp < k_hi && d < p.D) {
          x = kc[((kp % p.capacity) * p.nKv + kvh) * p.D + d];
        }
        ksh[kk * (DS + 1u) + idx % DS] = x;
      }
      workgroupBarrier();
      for (var dd = 0u; dd < DS; dd++) {
        let qv = qsh[row * DS + dd];
        for (var j = 0u; j < 4u; j++) {
          s[j] += qv * ksh[(sub + 8u * j) * (DS + 1u) + dd];
        }
      }
      workgroupBarrier();
    }

    var ok: array<bool, 4>;
    for (var j = 0u; j < 4u; j++) {
      let kp = kb + sub + 8u * j;
      ok[j] = row_ok && kp <= pos && (p.window == 0u || kp + p.window > pos);
      s[j] = select(NEG, capped(s[j] * p.scale), ok[j]);
      psh[row * BK + sub + 8u * j] = s[j];
    }
    workgroupBarrier();
    var mx = NEG;
    for (var c = 0u; c < BK; c++) {
      mx = max(mx, psh[row * BK + c]);
    }
    let mn = max(m, mx);
    let alpha = exp(m - mn);
    m = mn;
    workgroupBarrier();
    for (var j = 0u; j < 4u; j++) {
      psh[row * BK + sub + 8u * j] = select(0.0, exp(s[j] - m), ok[j]);
    }
    workgroupBarrier();
    var sum = 0.0;
    for (var c = 0u; c < BK; c++) {
      sum += psh[row * BK + c];
    }
    l = l * alpha + sum;

    for (var sl = 0u; sl < NVS; sl++) {
      let v0 = sl * VS;
      for (var i = 0u; i < 8u; i++) {
        let idx = lid + i * WG;
        let kk = idx / VS;
        let d = v0 + idx % VS;
        let kp = kb + kk;
        var x = 0.0;
        if (kp < k_hi && d < p.Dv) {
          x = vc[(kp % p.capacity) * p.v_stride + v_head + d];
        }
        vsh[idx] = x;
      }
      workgroupBarrier();
      for (var i = 0u; i < 4u; i++) {
        var a = acc[sl * 4u + i] * alpha;
        let d = sub + 8u * i;
        for (var c = 0u; c < BK; c++) {
          a += psh[row * BK + c] * vsh[c * VS + d];
        }
        acc[sl * 4u + i] = a;
      }
      workgroupBarrier();
    }
  }

  if (!row_ok) {
    return;
  }
  var f = 1.0;
  if (p.has_sinks == 1u) {
    let sink = sinks[h];
    let mn = max(m, sink);
    f = exp(m - mn);
    l = l * f + exp(sink - mn);
  }
  f /= l;
  for (var sl = 0u; sl < NVS; sl++) {
    for (var i = 0u; i < 4u; i++) {
      let d = sl * VS + sub + 8u * i;
      if (d < p.Dv) {
        out[(t * p.nH + h) * p.Dv + d] = acc[sl * 4u + i] * f;
      }
    }
  }
}
