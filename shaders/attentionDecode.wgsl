// Attention of a few query rows (decode) over a KV cache, split across workgroups (flash-decoding).
//
// Query t sits at position pos = start + t and sees keys lo..pos (lo = pos + 1 - window for a sliding
// window, else 0); position j lives in cache slot j % capacity. That key range is cut into chunks of
// `chunk` keys. `main` runs one workgroup per (chunk, kv head x group of HG query heads, query row): the
// HG query heads share each K/V row read (GQA/MQA/MLA). Keys are taken WG at a time: each thread scores
// one key for the HG heads, threads 0..HG-1 update the running max, every thread turns its scores into
// probabilities, and each thread accumulates the value dims d = lid + i * WG it owns (online softmax,
// f32). With one chunk (`direct`) the workgroup normalises and writes `out`; otherwise it writes its
// unnormalised (acc, max, sum) to `part` and `combine` (one workgroup per (head, row)) merges the chunks.
// Sinks (gpt-oss) join the denominator only, at the final normalisation.

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
  chunk: u32,       // keys per workgroup (a multiple of WG)
  n_chunks: u32,    // chunks per query row
  groups: u32,      // head groups per kv head: ceil((nH / nKv) / HG)
  direct: u32,      // 1: one chunk, write `out` directly
  has_sinks: u32,   // 1: sinks[h] joins the softmax denominator
  scale: f32,       // applied to q·k
  softcap: f32,     // cap * tanh(s / cap) when > 0
  ml_offset: u32,   // index in `part` of the (max, sum) pairs
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;           // [T, nH, D] f32
#if VEC4
@group(0) @binding(2) var<storage, read> kc: array<vec4<f32>>;    // [capacity, nKv, D / 4] vec4 f32
#else
@group(0) @binding(2) var<storage, read> kc: array<f32>;          // [capacity, nKv, D] f32
#endif
@group(0) @binding(3) var<storage, read> vc: array<f32>;          // [capacity, v_stride] f32 (head kvh at kvh * Dv, or kvh * D)
@group(0) @binding(4) var<storage, read> sinks: array<f32>;       // [nH] f32 (ignored unless has_sinks)
@group(0) @binding(5) var<storage, read_write> part: array<f32>;  // [T, nH, n_chunks, Dv] acc, then [T, nH, n_chunks, 2] (max, sum)
@group(0) @binding(6) var<storage, read_write> out: array<f32>;   // [T, nH, Dv] f32

const WG: u32 = 64u;
const HG: u32 = ${HG}u;   // query heads per workgroup
const DVT: u32 = ${DVT}u; // value dims per thread: ceil(Dv / WG)
const NEG: f32 = -3.0e38;

#if VEC4
var<workgroup> qs: array<vec4<f32>, ${QS4}>; // [HG, D / 4] the queries
#else
var<workgroup> qs: array<f32, ${QS}>;        // [HG, D] the queries
#endif
var<workgroup> ps: array<f32, ${PS}>;        // [HG, WG] scores, then probabilities of a block of keys
var<workgroup> run_max: array<f32, HG>;      // [HG] running max
var<workgroup> run_sum: array<f32, HG>;      // [HG] running sum of exp(s - max)
var<workgroup> alpha: array<f32, HG>;        // [HG] exp(old max - new max) of the block

fn capped(s: f32) -> f32 {
  if (p.softcap > 0.0) {
    return p.softcap * tanh(clamp(s / p.softcap, -15.0, 15.0));
  }
  return s;
}

@compute @workgroup_size(64)
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
  let k1 = min(k0 + p.chunk, pos + 1u);

#if VEC4
  let D4 = p.D / 4u;
  for (var i = lid; i < HG * D4; i += WG) {
    let hh = i / D4;
    var v = vec4<f32>(0.0);
    if (hh < nh) {
      let b = ((t * p.nH + h0 + hh) * p.D) + (i % D4) * 4u;
      v = vec4<f32>(q[b], q[b + 1u], q[b + 2u], q[b + 3u]);
    }
    qs[i] = v;
  }
#else
  for (var i = lid; i < HG * p.D; i += WG) {
    let hh = i / p.D;
    qs[i] = 0.0;
    if (hh < nh) {
      qs[i] = q[(t * p.nH + h0 + hh) * p.D + i % p.D];
    }
  }
#endif
  if (lid < HG) {
    run_max[lid] = NEG;
    run_sum[lid] = 0.0;
  }
  var acc: array<f32, ${ACC}>; // [HG, DVT]
  for (var i = 0u; i < HG * DVT; i++) {
    acc[i] = 0.0;
  }
  workgroupBarrier();

  for (var b0 = k0; b0 < k1; b0 += WG) {
    let j = b0 + lid;
    let valid = j < k1;
    var s: array<f32, HG>;
    for (var hh = 0u; hh < HG; hh++) {
      s[hh] = NEG;
    }
    if (valid) {
      let slot = j % p.capacity;
#if VEC4
      let base = (slot * p.nKv + kvh) * D4;
      for (var hh = 0u; hh < HG; hh++) {
        s[hh] = 0.0;
      }
      var d = 0u;
      for (; d + 4u <= D4; d += 4u) {
        let ka = kc[base + d];
        let kb = kc[base + d + 1u];
        let kc2 = kc[base + d + 2u];
        let kd = kc[base + d + 3u];
        for (var hh = 0u; hh < HG; hh++) {
          let qb = hh * D4 + d;
          s[hh] += dot(qs[qb], ka) + dot(qs[qb + 1u], kb) + dot(qs[qb + 2u], kc2) + dot(qs[qb + 3u], kd);
        }
      }
      for (; d < D4; d++) {
        let kv = kc[base + d];
        for (var hh = 0u; hh < HG; hh++) {
          s[hh] += dot(qs[hh * D4 + d], kv);
        }
      }
#else
      let base = (slot * p.nKv + kvh) * p.D;
      for (var hh = 0u; hh < HG; hh++) {
        s[hh] = 0.0;
      }
      for (var d = 0u; d < p.D; d++) {
        let kv = kc[base + d];
        for (var hh = 0u; hh < HG; hh++) {
          s[hh] += qs[hh * p.D + d] * kv;
        }
      }
#endif
      for (var hh = 0u; hh < HG; hh++) {
        s[hh] = capped(s[hh] * p.scale);
      }
    }
    for (var hh = 0u; hh < HG; hh++) {
      ps[hh * WG + lid] = s[hh];
    }
    workgroupBarrier();
    let nb = min(WG, k1 - b0);
    if (lid < HG) {
      var mx = NEG;
      for (var jj = 0u; jj < nb; jj++) {
        mx = max(mx, ps[lid * WG + jj]);
      }
      let old = run_max[lid];
      let mn = max(old, mx);
      alpha[lid] = exp(old - mn);
      run_max[lid] = mn;
    }
    workgroupBarrier();
    for (var hh = 0u; hh < HG; hh++) {
      ps[hh * WG + lid] = select(0.0, exp(s[hh] - run_max[hh]), valid);
    }
    workgroupBarrier();
    if (lid < HG) {
      var sum = 0.0;
      for (var jj = 0u; jj < nb; jj++) {
        sum += ps[lid * WG + jj];
      }
      run_sum[lid] = run_sum[lid] * alpha[lid] + sum;
    }
    for (var hh = 0u; hh < HG; hh++) {
      let a = alpha[hh];
      for (var i = 0u; i < DVT; i++) {
        acc[hh * DVT + i] *= a;
      }
    }
    // Four keys per step: their loads are independent, so they are in flight together.
    let v_head = kvh * (p.v_stride / p.nKv);
    var jj = 0u;
    for (; jj + 4u <= nb; jj += 4u) {
      let vb0 = ((b0 + jj) % p.capacity) * p.v_stride + v_head;
      let vb1 = ((b0 + jj + 1u) % p.capacity) * p.v_stride + v_head;
      let vb2 = ((b0 + jj + 2u) % p.capacity) * p.v_stride + v_head;
      let vb3 = ((b0 + jj + 3u) % p.capacity) * p.v_stride + v_head;
      for (var i = 0u; i < DVT; i++) {
        let d = lid + i * WG;
        if (d < p.Dv) {
          let v = vec4<f32>(vc[vb0 + d], vc[vb1 + d], vc[vb2 + d], vc[vb3 + d]);
          for (var hh = 0u; hh < HG; hh++) {
            let pr = vec4<f32>(ps[hh * WG + jj], ps[hh * WG + jj + 1u], ps[hh * WG + jj + 2u], ps[hh * WG + jj + 3u]);
            acc[hh * DVT + i] += dot(pr, v);
          }
        }
      }
    }
    for (; jj < nb; jj++) {
      let vb = ((b0 + jj) % p.capacity) * p.v_stride + v_head;
      for (var i = 0u; i < DVT; i++) {
        let d = lid + i * WG;
        if (d < p.Dv) {
          let v = vc[vb + d];
          for (var hh = 0u; hh < HG; hh++) {
            acc[hh * DVT + i] += ps[hh * WG + jj] * v;
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
// 256 threads: the max and the sum are reduced over the chunks in workgroup memory, then 4 lanes of 64
// threads each take a quarter of the chunks for every output dim and add up in workgroup memory.
const CWG: u32 = 256u;
const MAX_CHUNKS: u32 = 256u;
var<workgroup> cw: array<f32, MAX_CHUNKS>; // [n_chunks] e^(m_c - M)
var<workgroup> cred: array<f32, CWG>;     // reduction scratch

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
  let lane = lid / 64u;
  let dl = lid % 64u;
  for (var d0 = 0u; d0 < p.Dv; d0 += 64u) {
    let d = d0 + dl;
    var o = 0.0;
    if (d < p.Dv) {
      for (var c = lane; c < p.n_chunks; c += 4u) {
        o += part[(pc0 + c) * p.Dv + d] * cw[c];
      }
    }
    cred[lid] = o;
    workgroupBarrier();
    if (lane == 0u && d < p.Dv) {
      out[row * p.Dv + d] = (cred[dl] + cred[64u + dl] + cred[128u + dl] + cred[192u + dl]) * inv;
    }
    workgroupBarrier();
  }
}
