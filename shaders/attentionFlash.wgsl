// Attention of a chunk of query rows (prefill) over a KV cache: register-blocked flash attention.
//
// Query t sits at position pos = start + t and sees keys lo..pos (lo = pos + 1 - window for a sliding
// window, else 0); position j lives in cache slot j % capacity. The rows of a kv head are the (t, g) pairs
// of its G = nH / nKv query heads, r = t * G + g, so that a tile of rows shares every K/V tile it loads
// (GQA/MQA). Workgroup (x, kvh, split) takes the BQ = 64 rows x * 64 .. of kv head kvh and, of the keys any
// of them can see, those of its split (split_len keys from k_base + split * split_len); tiles of keys
// outside every row's window or the causal triangle are never visited. 128 threads: thread (ty, tx) =
// (lid / 8, lid % 8) owns rows 4 ty .. 4 ty + 3 and, per tile of BK keys, keys tx + 8 j (j < KPT):
//   S = Q Kᵀ over D in slabs of DS (Q and K slabs staged in workgroup memory, rows padded by 4 floats so
//   that the 8 threads of a row group read 8 different banks): a 4 x KPT block of S in registers, read as
//   vec4 along D (8 vec4 loads per 4 x 4 x 4 FMAs);
//   online softmax: row maxima and sums through workgroup memory (8 partial values per row);
//   O += P V over Dv in slabs of 32 columns: dims 4 tx .. 4 tx + 3 of every slab, a 4 x 4 block per slab
//   in registers (NVS slabs).
// One split (splits == 1) writes out normalised (sinks join the denominator); several write their
// unnormalised accumulators and (max, sum) to `part`, and `combine` merges them. BIDIRECTIONAL (vision
// encoders): every row sees keys 0 .. start + T - 1. VEC4 (D, Dv and the cache strides multiples of 4):
// global loads are vec4; else scalars assembled into vec4 (zero past the dims). f32 throughout.

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
  k_base: u32,     // first key of split 0
  split_len: u32,  // keys per split (a multiple of BK)
  splits: u32,     // key splits (grid z); 1: out is written directly
  ml_base: u32,    // vec4 index in part of the (max, sum) rows: splits * T * nH * ceil(Dv / 4)
}

@group(0) @binding(0) var<uniform> p: Params;
#if VEC4
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;   // [T, nH, D / 4] vec4
@group(0) @binding(2) var<storage, read> kc: array<vec4<f32>>;  // [capacity, nKv, D / 4] vec4
@group(0) @binding(3) var<storage, read> vc: array<vec4<f32>>;  // [capacity, v_stride / 4] vec4 (head kvh at kvh * v_stride / nKv)
#else
@group(0) @binding(1) var<storage, read> q: array<f32>;         // [T, nH, D] f32
@group(0) @binding(2) var<storage, read> kc: array<f32>;        // [capacity, nKv, D] f32
@group(0) @binding(3) var<storage, read> vc: array<f32>;        // [capacity, v_stride] f32 (head kvh at kvh * v_stride / nKv)
#endif
@group(0) @binding(4) var<storage, read> sinks: array<f32>;         // [nH] f32 (ignored unless has_sinks)
@group(0) @binding(5) var<storage, read_write> out: array<f32>;     // [T, nH, Dv] f32
@group(0) @binding(6) var<storage, read_write> part: array<vec4<f32>>; // [splits, T * nH, ceil(Dv / 4)] vec4 accumulators, then [splits, T * nH] (max, sum, 0, 0)

const WG: u32 = 128u;
const BQ: u32 = 64u;
const BK: u32 = ${BK}u;   // keys per tile
const KPT: u32 = BK / 8u; // keys per thread
const DS: u32 = ${DS}u;   // head dims per slab of Q and K
const QS4: u32 = DS / 4u + 1u; // vec4 per staged row of Q / K (one of padding)
const NVS: u32 = ${NVS}u; // V slabs of 32 dims: ceil(Dv / 32)
const PS4: u32 = BK / 4u + 1u; // vec4 per row of P (one of padding)
const KOFF: u32 = BQ * QS4;    // K slab after the Q slab in `sa`
const MOFF: u32 = 0u;          // [BQ, 8] row maxima, then
const LOFF: u32 = BQ * 2u;     // [BQ, 8] row sums, then
const VOFF: u32 = BQ * 4u;     // [BK, 8] vec4: a slab of V
const NEG: f32 = -3.0e38;

var<workgroup> sa: array<vec4<f32>, ${SA}>;  // Q slab [BQ, QS4] + K slab [BK, QS4]; later maxima, sums and a V slab
var<workgroup> psh: array<vec4<f32>, ${PSH}>; // [BQ, PS4] probabilities

fn capped(s: f32) -> f32 {
  if (p.softcap > 0.0) {
    return p.softcap * tanh(clamp(s / p.softcap, -15.0, 15.0));
  }
  return s;
}

// vec4 number d4 of a row of `n` floats that starts at float `base` (zero past n).
#if VEC4
fn q4(base: u32, d4: u32, n: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), q[base / 4u + d4], d4 * 4u < n);
}
fn k4(base: u32, d4: u32, n: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), kc[base / 4u + d4], d4 * 4u < n);
}
fn v4(base: u32, d4: u32, n: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), vc[base / 4u + d4], d4 * 4u < n);
}
#else
fn q4(base: u32, d4: u32, n: u32) -> vec4<f32> {
  var x = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (d4 * 4u + c < n) {
      x[c] = q[base + d4 * 4u + c];
    }
  }
  return x;
}
fn k4(base: u32, d4: u32, n: u32) -> vec4<f32> {
  var x = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (d4 * 4u + c < n) {
      x[c] = kc[base + d4 * 4u + c];
    }
  }
  return x;
}
fn v4(base: u32, d4: u32, n: u32) -> vec4<f32> {
  var x = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (d4 * 4u + c < n) {
      x[c] = vc[base + d4 * 4u + c];
    }
  }
  return x;
}
#endif

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let kvh = wg.y;
  let split = wg.z;
  let G = p.nH / p.nKv;
  let rows = p.T * G;
  let r0 = wg.x * BQ;
  let ty = lid / 8u;
  let tx = lid % 8u;
  let Dv4 = (p.Dv + 3u) / 4u;

  // Keys any row of the tile can see (first row's window start to last row's position), within the split.
  let p_first = p.start + r0 / G;
  let p_last = p.start + (min(r0 + BQ, rows) - 1u) / G;
  var k_lo = p.k_base + split * p.split_len;
  let split_end = k_lo + p.split_len;
#if BIDIRECTIONAL
  let k_hi = min(p.start + p.T, split_end);
#else
  if (p.window > 0u && p_first + 1u > p.window) {
    k_lo = max(k_lo, p_first + 1u - p.window);
  }
  let k_hi = min(p_last + 1u, split_end);
#endif
  let v_head = kvh * (p.v_stride / p.nKv);

  var pos: array<u32, 4>;
  var row_ok: array<bool, 4>;
  var m: array<f32, 4>;
  var l: array<f32, 4>;
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + ty * 4u + i;
    row_ok[i] = r < rows;
    pos[i] = p.start + r / G;
    m[i] = NEG;
    l[i] = 0.0;
  }
  var acc: array<vec4<f32>, ${ACC}>; // [4 rows, NVS]
  for (var i = 0u; i < 4u * NVS; i++) {
    acc[i] = vec4<f32>(0.0);
  }

  for (var kb = k_lo; kb < k_hi; kb += BK) {
    var s: array<f32, ${S}>; // [4 rows, KPT keys]
    for (var e = 0u; e < 4u * KPT; e++) {
      s[e] = 0.0;
    }
    for (var d0 = 0u; d0 < p.D; d0 += DS) {
      for (var e = lid; e < BQ * (DS / 4u); e += WG) {
        let rr = e / (DS / 4u);
        let c4 = e % (DS / 4u);
        let r = r0 + rr;
        var x = vec4<f32>(0.0);
        if (r < rows) {
          x = q4(((r / G) * p.nH + kvh * G + r % G) * p.D, d0 / 4u + c4, p.D);
        }
        sa[rr * QS4 + c4] = x;
      }
      for (var e = lid; e < BK * (DS / 4u); e += WG) {
        let kk = e / (DS / 4u);
        let c4 = e % (DS / 4u);
        let kp = kb + kk;
        var x = vec4<f32>(0.0);
        if (kp < k_hi) {
          x = k4(((kp % p.capacity) * p.nKv + kvh) * p.D, d0 / 4u + c4, p.D);
        }
        sa[KOFF + kk * QS4 + c4] = x;
      }
      workgroupBarrier();
      for (var c4 = 0u; c4 < DS / 4u; c4++) {
        let qa = sa[(ty * 4u) * QS4 + c4];
        let qb = sa[(ty * 4u + 1u) * QS4 + c4];
        let qc = sa[(ty * 4u + 2u) * QS4 + c4];
        let qd = sa[(ty * 4u + 3u) * QS4 + c4];
        for (var j = 0u; j < KPT; j++) {
          let kv = sa[KOFF + (tx + 8u * j) * QS4 + c4];
          s[j] += dot(qa, kv);
          s[KPT + j] += dot(qb, kv);
          s[2u * KPT + j] += dot(qc, kv);
          s[3u * KPT + j] += dot(qd, kv);
        }
      }
      workgroupBarrier();
    }

    // Mask, then the running maxima: each thread's maximum over its keys, merged over the 8 threads of a row.
    var ok: array<bool, ${S}>;
    for (var i = 0u; i < 4u; i++) {
      var mx = NEG;
      for (var j = 0u; j < KPT; j++) {
        let kp = kb + tx + 8u * j;
        let e = i * KPT + j;
#if BIDIRECTIONAL
        ok[e] = row_ok[i] && kp < k_hi;
#else
        ok[e] = row_ok[i] && kp < k_hi && kp <= pos[i] && (p.window == 0u || kp + p.window > pos[i]);
#endif
        s[e] = select(NEG, capped(s[e] * p.scale), ok[e]);
        mx = max(mx, s[e]);
      }
      sa[MOFF + (ty * 4u + i) * 2u + tx / 4u][tx % 4u] = mx;
    }
    workgroupBarrier();
    var alpha: array<f32, 4>;
    for (var i = 0u; i < 4u; i++) {
      let a = max(sa[MOFF + (ty * 4u + i) * 2u], sa[MOFF + (ty * 4u + i) * 2u + 1u]);
      let mn = max(m[i], max(max(a.x, a.y), max(a.z, a.w)));
      alpha[i] = exp(m[i] - mn);
      m[i] = mn;
      var sum = 0.0;
      for (var j = 0u; j < KPT; j++) {
        let e = i * KPT + j;
        let pr = select(0.0, exp(s[e] - mn), ok[e]);
        psh[(ty * 4u + i) * PS4 + (tx + 8u * j) / 4u][(tx + 8u * j) % 4u] = pr;
        sum += pr;
      }
      sa[LOFF + (ty * 4u + i) * 2u + tx / 4u][tx % 4u] = sum;
    }
    workgroupBarrier();
    for (var i = 0u; i < 4u; i++) {
      let b = sa[LOFF + (ty * 4u + i) * 2u] + sa[LOFF + (ty * 4u + i) * 2u + 1u];
      l[i] = l[i] * alpha[i] + (b.x + b.y + b.z + b.w);
      for (var sl = 0u; sl < NVS; sl++) {
        acc[i * NVS + sl] *= alpha[i];
      }
    }

    for (var sl = 0u; sl < NVS; sl++) {
      for (var e = lid; e < BK * 8u; e += WG) {
        let kk = e / 8u;
        let kp = kb + kk;
        var x = vec4<f32>(0.0);
        if (kp < k_hi) {
          x = v4((kp % p.capacity) * p.v_stride + v_head, sl * 8u + e % 8u, p.Dv);
        }
        sa[VOFF + e] = x;
      }
      workgroupBarrier();
      var oa = acc[sl];
      var ob = acc[NVS + sl];
      var oc = acc[2u * NVS + sl];
      var od = acc[3u * NVS + sl];
      for (var k4i = 0u; k4i < BK / 4u; k4i++) {
        let pa = psh[(ty * 4u) * PS4 + k4i];
        let pb = psh[(ty * 4u + 1u) * PS4 + k4i];
        let pc = psh[(ty * 4u + 2u) * PS4 + k4i];
        let pd = psh[(ty * 4u + 3u) * PS4 + k4i];
        for (var c = 0u; c < 4u; c++) {
          let vv = sa[VOFF + (k4i * 4u + c) * 8u + tx];
          oa += pa[c] * vv;
          ob += pb[c] * vv;
          oc += pc[c] * vv;
          od += pd[c] * vv;
        }
      }
      acc[sl] = oa;
      acc[NVS + sl] = ob;
      acc[2u * NVS + sl] = oc;
      acc[3u * NVS + sl] = od;
      workgroupBarrier();
    }
  }

  for (var i = 0u; i < 4u; i++) {
    if (!row_ok[i]) {
      continue;
    }
    let r = r0 + ty * 4u + i;
    let h = kvh * G + r % G;
    let row = (r / G) * p.nH + h;
    if (p.splits == 1u) {
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
        let v = acc[i * NVS + sl] * f;
        for (var c = 0u; c < 4u; c++) {
          let d = sl * 32u + tx * 4u + c;
          if (d < p.Dv) {
            out[row * p.Dv + d] = v[c];
          }
        }
      }
    } else {
      let at = split * p.T * p.nH + row;
      for (var sl = 0u; sl < NVS; sl++) {
        let d4 = sl * 8u + tx;
        if (d4 < Dv4) {
          part[at * Dv4 + d4] = acc[i * NVS + sl];
        }
      }
      if (tx == 0u) {
        part[p.ml_base + at] = vec4<f32>(m[i], l[i], 0.0, 0.0);
      }
    }
  }
}

// Merges the splits of row (t, h) = (wg.x, wg.y): out = Σ e^(m_s - M) acc_s / (Σ e^(m_s - M) l_s [+ e^(sink - M)]).
@compute @workgroup_size(64)
fn combine(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let row = wg.x * p.nH + wg.y;
  let Dv4 = (p.Dv + 3u) / 4u;
  var mx = NEG;
  for (var s = 0u; s < p.splits; s++) {
    mx = max(mx, part[p.ml_base + s * p.T * p.nH + row].x);
  }
  if (p.has_sinks == 1u) {
    mx = max(mx, sinks[wg.y]);
  }
  var li = 0.0;
  for (var s = 0u; s < p.splits; s++) {
    let ml = part[p.ml_base + s * p.T * p.nH + row];
    li += ml.y * exp(ml.x - mx);
  }
  if (p.has_sinks == 1u) {
    li += exp(sinks[wg.y] - mx);
  }
  for (var d4 = lid3.x; d4 < Dv4; d4 += 64u) {
    var o = vec4<f32>(0.0);
    for (var s = 0u; s < p.splits; s++) {
      let at = s * p.T * p.nH + row;
      o += part[at * Dv4 + d4] * exp(part[p.ml_base + at].x - mx);
    }
    o /= li;
    for (var c = 0u; c < 4u; c++) {
      if (d4 * 4u + c < p.Dv) {
        out[row * p.Dv + d4 * 4u + c] = o[c];
      }
    }
  }
}
