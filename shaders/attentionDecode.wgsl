// Attention of a few query rows (decode) over a KV cache, split across workgroups (flash-decoding).
//
// Query t sits at position pos = start + t and sees keys lo..pos (lo = pos + 1 - window for a sliding
// window, else 0); position j lives in cache slot j % capacity. That key range is cut into chunks of
// `chunk` keys (a multiple of KB); the grid has `n_chunks` chunks per row, the last ones possibly empty (the
// grid is fixed for a bucket of positions, so that a recorded step replays unchanged). `main` runs one
// workgroup per (chunk, kv head x group of HG query heads, query row): the HG query heads share each K/V
// row read (GQA/MQA/MLA). Keys are taken KB at a time. Scores: SUB threads per key, each summing a
// SUB-th of the head dims for all HG heads, the parts added in workgroup memory. Softmax: threads 0..HG-1
// update the running max and sum of their head (online softmax, f32). Values: each thread owns the value
// dims d = lid + i * WG and accumulates all HG heads. With one chunk (`direct`) the workgroup normalises
// and writes `out`; otherwise it writes its unnormalised (acc, max, sum) to `part` and `combine` (one
// workgroup per (head, row)) merges the chunks. Sinks (gpt-oss) join the denominator only, at the end.

struct Params {
  T: u32,           // query rows
  nH: u32,          // query heads
  nKv: u32,         // kv heads
  D: u32,           // q/k head dim
  Dv: u32,          // v head dim (output)
  v_stride: u32,    // floats per cache row of V: nKv * Dv, or nKv * D when V is read from K (MLA)
  capacity: u32,    // cache slots
  start: u32,       // position of query row 0
  window: u32,      // sliding window, 0 = full causal
  chunk: u32,       // keys per workgroup (a multiple of KB)
  n_chunks: u32,    // chunks per query row
  groups: u32,      // head groups per kv head: ceil((nH / nKv) / HG)
  direct: u32,      // 1: one chunk, write `out` directly
  has_sinks: u32,   // 1: sinks[h] joins the softmax denominator
  scale: f32,       // applied to q·k
  softcap: f32,     // cap * tanh(s / cap) when > 0
  ml_offset: u32,   // index in `part` of the (max, sum) pairs
}

#if VEC4
alias KU = vec4<f32>; // a unit of the head dim: 4 floats
fn kdot(a: KU, b: KU) -> f32 {
  return dot(a, b);
}
#else
alias KU = f32;       // a unit of the head dim: 1 float
fn kdot(a: KU, b: KU) -> f32 {
  return a * b;
}
#endif

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<KU>;            // [T, nH, D / U] (U = 4 floats with VEC4, else 1)
@group(0) @binding(2) var<storage, read> kc: array<KU>;           // [capacity, nKv, D / U]
@group(0) @binding(3) var<storage, read> vc: array<f32>;          // [capacity, v_stride] f32 (head kvh at kvh * Dv, or kvh * D)
@group(0) @binding(4) var<storage, read> sinks: array<f32>;       // [nH] f32 (ignored unless has_sinks)
@group(0) @binding(5) var<storage, read_write> part: array<f32>;  // [T, nH, n_chunks, Dv] acc, then [T, nH, n_chunks, 2] (max, sum)
@group(0) @binding(6) var<storage, read_write> out: array<f32>;   // [T, nH, Dv] f32

const WG: u32 = 128u;
const KB: u32 = 32u;      // keys per block
const SUB: u32 = 4u;      // threads per key in the scores (WG = KB * SUB)
const HG: u32 = ${HG}u;   // query heads per workgroup
const DU: u32 = ${DU}u;   // units of the head dim: D / 4 with VEC4, else D
const DVT: u32 = ${DVT}u; // value dims per thread: ceil(Dv / WG)
const NEG: f32 = -3.0e38;

var<workgroup> qs: array<KU, ${QS}>;        // [HG, DU] the queries
var<workgroup> sp: array<f32, ${SP}>;       // [HG, KB, SUB] partial scores
var<workgroup> ps: array<f32, ${PS}>;       // [HG, KB] scores, then probabilities, of a block of keys
var<workgroup> run_max: array<f32, HG>;     // [HG] running max
var<workgroup> run_sum: array<f32, HG>;     // [HG] running sum of exp(s - max)
var<workgroup> alpha: array<f32, HG>;       // [HG] exp(old max - new max) of the block

fn capped(s: f32) -> f32 {
  if (p.softcap > 0.0) {
    return p.softcap * tanh(clamp(s / p.softcap, -15.0, 15.0));
  }
  return s;
}

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let c = wg.x;
  let kvh = wg.y / p.groups;
  let G = p.nH / p.nKv;
  let g0 = (wg.y % p.groups) * HG;
  let nh = min(HG, G - g0);      // heads of this workgroup
  let h0 = kvh * G + g0;         // first of them
  let t = wg.z;
  let pos = p.start + t;
  var lo = 0u;
  if (p.window > 0u && pos + 1u > p.window) {
    lo = pos + 1u - p.window;
  }
  let k0 = lo + c * p.chunk;
  let k1 = min(k0 + p.chunk, pos + 1u); // k1 <= k0: an empty chunk of the bucket's grid

  for (var i = lid; i < HG * DU; i += WG) {
    let hh = i / DU;
    var v = KU(0.0);
    if (hh < nh) {
      v = q[(t * p.nH + h0 + hh) * DU + i % DU];
    }
    qs[i] = v;
  }
  if (lid < HG) {
    run_max[lid] = NEG;
    run_sum[lid] = 0.0;
  }
  var acc: array<f32, ${ACC}>; // [HG, DVT]
  for (var i = 0u; i < HG * DVT; i++) {
    acc[i] = 0.0;
  }
  workgroupBarrier();

  let key = lid / SUB;
  let sub = lid % SUB;
  let v_head = kvh * (p.v_stride / p.nKv);
  for (var b0 = k0; b0 < k1; b0 += KB) {
    let nb = min(KB, k1 - b0);
    // Scores: this thread's SUB-th of the dims of key b0 + key, for every head.
    var s: array<f32, HG>;
    for (var hh = 0u; hh < HG; hh++) {
      s[hh] = 0.0;
    }
    if (key < nb) {
      let base = (((b0 + key) % p.capacity) * p.nKv + kvh) * DU;
      for (var m = 0u; m < (DU + SUB - 1u) / SUB; m++) {
        let u = sub + m * SUB;
        if (u < DU) {
          let kv = kc[base + u];
          for (var hh = 0u; hh < HG; hh++) {
            s[hh] += kdot(qs[hh * DU + u], kv);
          }
        }
      }
    }
    for (var hh = 0u; hh < HG; hh++) {
      sp[(hh * KB + key) * SUB + sub] = s[hh];
    }
    workgroupBarrier();
    for (var i = lid; i < HG * KB; i += WG) {
      let b = i * SUB;
      var score = NEG;
      if (i % KB < nb) {
        score = capped((sp[b] + sp[b + 1u] + sp[b + 2u] + sp[b + 3u]) * p.scale);
      }
      ps[i] = score;
    }
    workgroupBarrier();
    if (lid < HG) {
      var mx = NEG;
      for (var jj = 0u; jj < nb; jj++) {
        mx = max(mx, ps[lid * KB + jj]);
      }
      let old = run_max[lid];
      let mn = max(old, mx);
      alpha[lid] = exp(old - mn);
      run_max[lid] = mn;
    }
    workgroupBarrier();
    for (var i = lid; i < HG * KB; i += WG) {
      ps[i] = select(0.0, exp(ps[i] - run_max[i / KB]), i % KB < nb);
    }
    workgroupBarrier();
    if (lid < HG) {
      var sum = 0.0;
      for (var jj = 0u; jj < nb; jj++) {
        sum += ps[lid * KB + jj];
      }
      run_sum[lid] = run_sum[lid] * alpha[lid] + sum;
    }
    for (var hh = 0u; hh < HG; hh++) {
      let a = alpha[hh];
      for (var i = 0u; i < DVT; i++) {
        acc[hh * DVT + i] *= a;
      }
    }
    // Values, eight keys per step: their loads are independent, so they are in flight together.
    for (var i = 0u; i < DVT; i++) {
      let d = lid + i * WG;
      if (d < p.Dv) {
        var jj = 0u;
        for (; jj + 8u <= nb; jj += 8u) {
          var v: array<f32, 8>;
          for (var e = 0u; e < 8u; e++) {
            v[e] = vc[((b0 + jj + e) % p.capacity) * p.v_stride + v_head + d];
          }
          for (var hh = 0u; hh < HG; hh++) {
            var a = acc[hh * DVT + i];
            for (var e = 0u; e < 8u; e++) {
              a += ps[hh * KB + jj + e] * v[e];
            }
            acc[hh * DVT + i] = a;
          }
        }
        for (; jj < nb; jj++) {
          let v = vc[((b0 + jj) % p.capacity) * p.v_stride + v_head + d];
          for (var hh = 0u; hh < HG; hh++) {
            acc[hh * DVT + i] += ps[hh * KB + jj] * v;
          }
        }
      }
    }
    workgroupBarrier();
  }

  for (var hh = 0u; hh < nh; hh++) {
    let row = t * p.nH + h0 + hh; // (t, h)
    if (p.direct == 1u) {
      var m = run_max[hh];
      var l = run_sum[hh];
      var f = 1.0;
      if (p.has_sinks == 1u) {
        let sink = sinks[h0 + hh];
        let mn = max(m, sink);
        f = exp(m - mn);
        l = l * f + exp(sink - mn);
      }
      f /= l;
      for (var i = 0u; i < DVT; i++) {
        let d = lid + i * WG;
        if (d < p.Dv) {
          out[row * p.Dv + d] = acc[hh * DVT + i] * f;
        }
      }
    } else {
      let pc = row * p.n_chunks + c;
      for (var i = 0u; i < DVT; i++) {
        let d = lid + i * WG;
        if (d < p.Dv) {
          part[pc * p.Dv + d] = acc[hh * DVT + i];
        }
      }
      if (lid == 0u) {
        part[p.ml_offset + 2u * pc] = run_max[hh];
        part[p.ml_offset + 2u * pc + 1u] = run_sum[hh];
      }
    }
  }
}

// Merges the chunks of one (head, row): out = Σ_c acc_c e^(m_c - M) / (Σ_c l_c e^(m_c - M) [+ e^(sink - M)]).
// 256 threads: the max and the sum are reduced over the chunks in workgroup memory, then CL lanes of CQ
// threads (a thread per 4 output dims) each take every CL-th chunk and add up in workgroup memory.
const CWG: u32 = 256u;
const MAX_CHUNKS: u32 = 256u;
var<workgroup> cw: array<f32, MAX_CHUNKS>; // [n_chunks] e^(m_c - M)
var<workgroup> cred: array<f32, CWG>;     // reduction scratch
const CQ: u32 = ${CQ}u;                   // quads of value dims per lane: ceil(Dv / 4) up to a power of two
const CL: u32 = CWG / CQ;                 // lanes over the chunks
var<workgroup> cacc: array<vec4<f32>, CWG>; // [CL, CQ] partial outputs

fn reduce_max(v: f32, lid: u32) -> f32 {
  cred[lid] = v;
  workgroupBarrier();
  for (var s = CWG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      cred[lid] = max(cred[lid], cred[lid + s]);
    }
    workgroupBarrier();
  }
  let r = cred[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(v: f32, lid: u32) -> f32 {
  cred[lid] = v;
  workgroupBarrier();
  for (var s = CWG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      cred[lid] += cred[lid + s];
    }
    workgroupBarrier();
  }
  let r = cred[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(256)
fn combine(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let h = wg.x;
  let row = wg.y * p.nH + h;
  let pc0 = row * p.n_chunks;
  let ml0 = p.ml_offset + 2u * pc0;
  var mx = NEG;
  for (var c = lid; c < p.n_chunks; c += CWG) {
    mx = max(mx, part[ml0 + 2u * c]);
  }
  var M = reduce_max(mx, lid);
  if (p.has_sinks == 1u) {
    M = max(M, sinks[h]);
  }
  var sum = 0.0;
  for (var c = lid; c < p.n_chunks; c += CWG) {
    let w = exp(part[ml0 + 2u * c] - M);
    cw[c] = w;
    sum += part[ml0 + 2u * c + 1u] * w;
  }
  var L = reduce_sum(sum, lid); // its barriers also publish cw
  if (p.has_sinks == 1u) {
    L += exp(sinks[h] - M);
  }
  let inv = 1.0 / L;
  // CL lanes over the chunks x CQ quads of value dims, eight chunks per step in flight; lanes meet in a tree.
  let q4 = lid % CQ;
  let lane = lid / CQ;
  let d = 4u * q4;
  var o = vec4<f32>(0.0);
  if (d < p.Dv) {
    for (var c0 = lane; c0 < p.n_chunks; c0 += 8u * CL) {
      var v: array<vec4<f32>, 8>;
      for (var e = 0u; e < 8u; e++) {
        let c = c0 + e * CL;
        v[e] = vec4<f32>(0.0);
        if (c < p.n_chunks) {
          let b = (pc0 + c) * p.Dv + d;
          let x = vec4<f32>(part[b], part[b + 1u], part[b + 2u], part[b + 3u]);
          v[e] = select(vec4<f32>(0.0), x, vec4<u32>(d) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.Dv)) * cw[c];
        }
      }
      o += ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    }
  }
  cacc[lid] = o;
  workgroupBarrier();
  for (var s = CL / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      cacc[lid] += cacc[lid + s * CQ];
    }
    workgroupBarrier();
  }
  if (lane == 0u) {
    let r = cacc[q4] * inv;
    for (var i = 0u; i < 4u; i++) {
      if (d + i < p.Dv) {
        out[row * p.Dv + d + i] = r[i];
      }
    }
  }
}
