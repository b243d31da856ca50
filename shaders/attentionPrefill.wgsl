// Attention of a chunk of query rows (prefill) over a KV cache: tiled flash-attention.
//
// Query t sits at position pos = start + t and sees keys lo..pos (lo = pos + 1 - window for a sliding
// window, else 0); position j lives in cache slot j % capacity. The rows of a kv head are the (t, g)
// pairs of its G = nH / nKv query heads, r = t * G + g, so that a tile of rows shares every K/V tile it
// loads (GQA/MQA/MLA). One workgroup of 128 threads takes BQ = 16 * RPT rows and walks the keys that any
// of them can see (tiles outside every row's window are never visited) in tiles of BK = 32. Thread
// (row, sub), row = lid / 8, sub = lid % 8, owns rows row + 16 i (i < RPT) and:
//   S = Q Kᵀ over D in slabs of DS = 32 (Q and K slabs staged in workgroup memory): the RPT x 4 entries
//   S[row + 16 i, sub + 8 j]; scale, softcap, causal/window mask;
//   online softmax per row (the 8 threads of a row keep the same running max and sum);
//   O += P V over Dv in slabs of VS = 32 (V slab staged where the K slab was): dims sub + 8 j of every
//   slab, in registers.
// RPT = 2 where Dv <= 256 (more work per shared load), 1 for wider values (MLA's 512). f32 throughout.
// Sinks (gpt-oss) join the denominator only, at the final normalisation. BIDIRECTIONAL (vision encoders):
// every row sees keys 0 .. start + T - 1, no causal mask and no window.

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
const RPT: u32 = ${RPT}u; // rows per thread
const BQ: u32 = 16u * RPT;
const BK: u32 = 32u;
const DS: u32 = 32u;
const VS: u32 = 32u;
const NVS: u32 = ${NVS}u; // V slabs: ceil(Dv / VS)
const NEG: f32 = -3.0e38;

var<workgroup> qsh: array<f32, ${QSH}>; // [BQ, DS] slab of Q
var<workgroup> kvsh: array<f32, 1056>;  // [BK, DS + 1] slab of K (padded against bank conflicts), then [BK, VS] slab of V
var<workgroup> psh: array<f32, ${QSH}>; // [BQ, BK] scores, then probabilities

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
#if BIDIRECTIONAL
  let k_hi = p.start + p.T; // every query sees every cached key (an encoder: no causal mask)
#else
  let k_hi = p_last + 1u;
#endif

  let row = lid / 8u;
  let sub = lid % 8u;
  var pos: array<u32, RPT>;
  var row_ok: array<bool, RPT>;
  var m: array<f32, RPT>;
  var l: array<f32, RPT>;
  for (var i = 0u; i < RPT; i++) {
    let r = r0 + row + 16u * i;
    row_ok[i] = r < rows;
    pos[i] = p.start + r / G;
    m[i] = NEG;
    l[i] = 0.0;
  }
  var acc: array<f32, ${ACC}>; // [RPT, NVS, 4]
  for (var i = 0u; i < RPT * NVS * 4u; i++) {
    acc[i] = 0.0;
  }

  for (var kb = k_lo; kb < k_hi; kb += BK) {
    var s: array<f32, ${S}>; // [RPT, 4]
    for (var i = 0u; i < RPT * 4u; i++) {
      s[i] = 0.0;
    }
    for (var d0 = 0u; d0 < p.D; d0 += DS) {
      for (var i = 0u; i < 4u * RPT; i++) {
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
        kvsh[kk * (DS + 1u) + idx % DS] = x;
      }
      workgroupBarrier();
      for (var dd = 0u; dd < DS; dd++) {
        let k4 = vec4<f32>(kvsh[sub * (DS + 1u) + dd], kvsh[(sub + 8u) * (DS + 1u) + dd],
                           kvsh[(sub + 16u) * (DS + 1u) + dd], kvsh[(sub + 24u) * (DS + 1u) + dd]);
        for (var i = 0u; i < RPT; i++) {
          let qv = qsh[(row + 16u * i) * DS + dd];
          s[i * 4u] += qv * k4.x;
          s[i * 4u + 1u] += qv * k4.y;
          s[i * 4u + 2u] += qv * k4.z;
          s[i * 4u + 3u] += qv * k4.w;
        }
      }
      workgroupBarrier();
    }

    var ok: array<bool, ${S}>;
    var alpha: array<f32, RPT>;
    for (var i = 0u; i < RPT; i++) {
      for (var j = 0u; j < 4u; j++) {
        let kp = kb + sub + 8u * j;
        let e = i * 4u + j;
#if BIDIRECTIONAL
        ok[e] = row_ok[i] && kp < k_hi;
#else
        ok[e] = row_ok[i] && kp <= pos[i] && (p.window == 0u || kp + p.window > pos[i]);
#endif
        s[e] = select(NEG, capped(s[e] * p.scale), ok[e]);
        psh[(row + 16u * i) * BK + sub + 8u * j] = s[e];
      }
    }
    workgroupBarrier();
    for (var i = 0u; i < RPT; i++) {
      var mx = NEG;
      for (var c = 0u; c < BK; c++) {
        mx = max(mx, psh[(row + 16u * i) * BK + c]);
      }
      let mn = max(m[i], mx);
      alpha[i] = exp(m[i] - mn);
      m[i] = mn;
    }
    workgroupBarrier();
    for (var i = 0u; i < RPT; i++) {
      for (var j = 0u; j < 4u; j++) {
        psh[(row + 16u * i) * BK + sub + 8u * j] = select(0.0, exp(s[i * 4u + j] - m[i]), ok[i * 4u + j]);
      }
    }
    workgroupBarrier();
    for (var i = 0u; i < RPT; i++) {
      var sum = 0.0;
      for (var c = 0u; c < BK; c++) {
        sum += psh[(row + 16u * i) * BK + c];
      }
      l[i] = l[i] * alpha[i] + sum;
    }

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
        kvsh[idx] = x;
      }
      workgroupBarrier();
      var a: array<f32, ${S}>; // [RPT, 4]
      for (var i = 0u; i < RPT; i++) {
        for (var j = 0u; j < 4u; j++) {
          a[i * 4u + j] = acc[(i * NVS + sl) * 4u + j] * alpha[i];
        }
      }
      for (var c = 0u; c < BK; c++) {
        let v4 = vec4<f32>(kvsh[c * VS + sub], kvsh[c * VS + sub + 8u], kvsh[c * VS + sub + 16u], kvsh[c * VS + sub + 24u]);
        for (var i = 0u; i < RPT; i++) {
          let pr = psh[(row + 16u * i) * BK + c];
          a[i * 4u] += pr * v4.x;
          a[i * 4u + 1u] += pr * v4.y;
          a[i * 4u + 2u] += pr * v4.z;
          a[i * 4u + 3u] += pr * v4.w;
        }
      }
      for (var i = 0u; i < RPT; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[(i * NVS + sl) * 4u + j] = a[i * 4u + j];
        }
      }
      workgroupBarrier();
    }
  }

  for (var i = 0u; i < RPT; i++) {
    if (!row_ok[i]) {
      continue;
    }
    let r = r0 + row + 16u * i;
    let h = kvh * G + r % G;
    var f = 1.0;
    var li = l[i];
    if (p.has_sinks == 1u) {
      let sink = sinks[h];
      let mn = max(m[i], sink);
      f = exp(m[i] - mn);
      li = li * f + exp(sink - mn);
    }
    f /= li;
    for (var sl = 0u; sl < NVS; sl++) {
      for (var j = 0u; j < 4u; j++) {
        let d = sl * VS + sub + 8u * j;
        if (d < p.Dv) {
          out[((r / G) * p.nH + h) * p.Dv + d] = acc[(i * NVS + sl) * 4u + j] * f;
        }
      }
    }
  }
}
