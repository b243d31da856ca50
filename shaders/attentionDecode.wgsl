// Attention of a few query rows (decode) over a KV cache, split across workgroups (flash-decoding).
//
// Query t sits at position pos = start + t and sees keys lo..pos (lo = pos + 1 - window for a sliding
// window, else 0); position j lives in cache slot j % capacity. That key range is cut into chunks of
// `chunk` keys (a multiple of KB); the grid has `n_chunks` chunks per row, the last ones possibly empty (the
// grid is fixed for a bucket of positions, so that a recorded step replays unchanged). `main` runs one
// workgroup per (chunk, kv head x group of HG query heads, query row): the HG query heads share each K/V
// row read (GQA/MQA/MLA).
//
// Keys are taken KB at a time, and a block's K and V rows are all requested before any is used, so that a
// block costs one trip to memory (a decode chunk is usually one block). Scores: SUB threads per key, each
// summing a SUB-th of the head dims for all HG heads, the parts added in workgroup memory. Softmax: a
// thread per (head, key) finds the block's max from the scores in workgroup memory and keeps its head's
// running max and its key's running sum in registers (online softmax, f32). Values: each thread owns a
// unit (4 dims, or 1) of the value dims and a lane of the block's keys, for all HG heads; the lanes meet
// in workgroup memory at the end. With one chunk (`direct`) the workgroup normalises and writes `out`;
// otherwise it writes its unnormalised (acc, max, sum) to `part` and `combine` (one workgroup per (head,
// row)) merges the chunks. Sinks (gpt-oss) join the denominator only, at the end.
//
// FUSED_ROPE (one query row): q, k and v come raw from the q|k|v GEMV's output (`q` binds it, k at p.k_off and
// v at p.v_off floats), and each workgroup does what shaders/ropeKv.wgsl would have done before it: RoPE of its
// heads' queries at positions[0]. The workgroups whose chunk holds the new position also turn the new key,
// take it and the new value from workgroup memory where
// their block reads that position, and those of head group 0 write both to the cache. No workgroup reads the
// new position's cache slot, so none waits for that write (the next step reads it).

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
  dv4: u32,         // floats per partial row in `part`: Dv rounded up to 4
#if FUSED_ROPE
  k_off: u32,       // float offset of the new key [nKv, D] in q's buffer
  v_off: u32,       // float offset of the new value [nKv, Dv] in it
  half: u32,        // rotaryDim / 2
  rot_off: u32,     // first rotated dim inside a head
  factor: f32,      // attention factor multiplying cos and sin
#endif
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

#if VEC4V
alias VU = vec4<f32>; // a unit of the value dims: 4 floats
const VW: u32 = 4u;
fn sp_unit(i: u32) -> VU {
  return vec4<f32>(sp[4u * i], sp[4u * i + 1u], sp[4u * i + 2u], sp[4u * i + 3u]);
}
fn sp_store(i: u32, v: VU) {
  sp[4u * i] = v.x;
  sp[4u * i + 1u] = v.y;
  sp[4u * i + 2u] = v.z;
  sp[4u * i + 3u] = v.w;
}
fn out_store(i: u32, v: VU) {
  out[i] = v.x;
  out[i + 1u] = v.y;
  out[i + 2u] = v.z;
  out[i + 3u] = v.w;
}
fn part_store(i: u32, v: VU) {
  part[i] = v.x;
  part[i + 1u] = v.y;
  part[i + 2u] = v.z;
  part[i + 3u] = v.w;
}
#else
alias VU = f32;       // a unit of the value dims: 1 float
const VW: u32 = 1u;
fn sp_unit(i: u32) -> VU {
  return sp[i];
}
fn sp_store(i: u32, v: VU) {
  sp[i] = v;
}
fn out_store(i: u32, v: VU) {
  out[i] = v;
}
fn part_store(i: u32, v: VU) {
  part[i] = v;
}
#endif

@group(0) @binding(0) var<uniform> p: Params;
#if FUSED_ROPE
@group(0) @binding(1) var<storage, read> q: array<f32>;           // [nH * D] raw q, [nKv, D] k at k_off, [nKv, Dv] v at v_off
@group(0) @binding(2) var<storage, read_write> kc: array<KU>;     // [capacity, nKv, D / U]; the new key written to its slot
@group(0) @binding(3) var<storage, read_write> vc: array<VU>;     // [capacity, v_stride / VW]; the new value written
@group(0) @binding(4) var<storage, read> sinks: array<f32>;       // [nH] f32 (ignored unless has_sinks)
@group(0) @binding(7) var<storage, read> positions: array<u32>;   // [1] the rotary position of the query
@group(0) @binding(8) var<storage, read> inv_freq: array<f32>;    // [half] f32
#else
@group(0) @binding(1) var<storage, read> q: array<KU>;            // [T, nH, D / U] (U = 4 floats with VEC4, else 1)
@group(0) @binding(2) var<storage, read> kc: array<KU>;           // [capacity, nKv, D / U]
@group(0) @binding(3) var<storage, read> vc: array<VU>;           // [capacity, v_stride / VW] (head kvh at kvh * v_stride / nKv)
@group(0) @binding(4) var<storage, read> sinks: array<f32>;       // [nH] f32 (ignored unless has_sinks)
#endif
@group(0) @binding(5) var<storage, read_write> part: array<f32>;  // [T, nH, n_chunks, dv4] acc, then [T, nH, n_chunks, 2] (max, sum)
@group(0) @binding(6) var<storage, read_write> out: array<f32>;   // [T, nH, Dv] f32

const WG: u32 = 128u;
const KB: u32 = 32u;          // keys per block
const SUB: u32 = 4u;          // threads per key in the scores (WG = KB * SUB)
const HG: u32 = ${HG}u;       // query heads per workgroup
const DU: u32 = ${DU}u;       // units of the head dim: D / 4 with VEC4, else D
const KPT: u32 = ${KPT}u;     // K units per thread and key: ceil(DU / SUB)
const VQ: u32 = ${VQ}u;       // units of the value dims: Dv / 4 with VEC4V, else Dv
const VUT: u32 = ${VUT}u;     // value units per thread: ceil(VQ / WG)
const VL: u32 = ${VL}u;       // lanes over a block's keys (a power of two; 1 when VQ >= WG)
const VPL: u32 = KB / VL;     // keys per lane
const VPS: u32 = ${VPS}u;     // keys per lane loaded at once (VPL / VPS steps)
const SR: u32 = ${SR}u;       // (head, key) softmax entries per thread: ceil(HG * KB / WG)
const VREG: u32 = ${VREG}u;   // V units a thread holds: VPS * VUT
const QPT: u32 = ${QPT}u;     // query units a thread loads: ceil(HG * DU / WG)
const MH: u32 = ${MH}u;       // heads whose value lanes meet in one pass
const NEG: f32 = -3.0e38;

var<workgroup> qs: array<KU, ${QS}>;        // [HG, DU] the queries
var<workgroup> sp: array<f32, ${SP}>;       // [HG, KB, SUB] partial scores; at the end [MH, VL, VQ, VW] the lanes of MH heads
var<workgroup> ps: array<f32, ${PS}>;       // [HG, KB] scores of a block of keys; at the end the keys' sums
var<workgroup> pp: array<f32, ${PS}>;       // [HG, KB] their probabilities
var<workgroup> alpha: array<f32, HG>;       // [HG] exp(old max - new max) of the block
var<workgroup> head_max: array<f32, HG>;    // [HG] max of the chunk's scores
var<workgroup> head_sum: array<f32, HG>;    // [HG] sum of their exp(s - max)

#if FUSED_ROPE
const FD: u32 = ${FD}u;                     // the head dim D
const FDV: u32 = ${FDV}u;                   // the value dim Dv
var<workgroup> fq: array<f32, (HG + 1u) * FD>; // [HG + 1, D] the heads' raw q, then the new key's
var<workgroup> fk: array<f32, FD>;          // [D] the new key, turned
var<workgroup> fv: array<f32, FDV>;         // [Dv] the new value

#include "sincos"
#include "ropePair"

fn fk_unit(u: u32) -> KU {
#if VEC4
  return vec4<f32>(fk[4u * u], fk[4u * u + 1u], fk[4u * u + 2u], fk[4u * u + 3u]);
#else
  return fk[u];
#endif
}

fn fv_unit(u: u32) -> VU {
#if VEC4V
  return vec4<f32>(fv[4u * u], fv[4u * u + 1u], fv[4u * u + 2u], fv[4u * u + 3u]);
#else
  return fv[u];
#endif
}

// Query dim d of head hh into the workgroup's queries.
fn qs_put(hh: u32, d: u32, value: f32) {
#if VEC4
  qs[hh * DU + d / 4u][d % 4u] = value;
#else
  qs[hh * DU + d] = value;
#endif
}

// The raw q of the workgroup's nh heads (from h0) and, with the new key (nseg = nh + 1), kv head kvh's new key
// and value: turned to positions[0] into qs, fk and fv, as shaders/ropeKv.wgsl computes them.
fn fused_rope_prologue(lid: u32, nh: u32, h0: u32, kvh: u32, nseg: u32, has_new: bool) {
  for (var i = lid; i < nseg * FD; i += WG) {
    let s = i / FD;
    let d = i % FD;
    if (s < nh) {
      fq[i] = q[(h0 + s) * FD + d];
    } else {
      fq[i] = q[p.k_off + kvh * FD + d];
    }
  }
  if (has_new) {
    for (var i = lid; i < FDV; i += WG) {
      fv[i] = q[p.v_off + kvh * FDV + i];
    }
  }
  for (var i = lid; i < HG * DU; i += WG) {
    qs[i] = KU(0.0); // heads past nh stay zero
  }
  workgroupBarrier();
  let angle = f32(positions[0]);
  for (var i = lid; i < nseg * FD; i += WG) {
    let s = i / FD;
    let d = i % FD;
    var value = fq[i];
    if (d >= p.rot_off && d < p.rot_off + 2u * p.half) {
      let side = rope_side(d - p.rot_off);
      let sc = rope_sincos(angle * inv_freq[side.i]) * p.factor;
      let ab = rope_pair(s * FD + p.rot_off, side.i);
      value = rope_turn(fq[ab.x], fq[ab.y], sc, side.first);
    }
    if (s < nh) {
      qs_put(s, d, value);
    } else {
      fk[d] = value;
    }
  }
}
#endif

fn capped(s: f32) -> f32 {
  if (p.softcap > 0.0) {
    return p.softcap * tanh(clamp(s / p.softcap, -15.0, 15.0));
  }
  return s;
}

// This thread's K units of key b0 + key (clamped to the keys before k1) of kv head kvh.
fn load_k(b0: u32, k1: u32, key: u32, sub: u32, kvh: u32) -> array<KU, KPT> {
  let slot = (min(b0 + key, k1 - 1u) % p.capacity) * p.nKv + kvh;
  var r: array<KU, KPT>;
  for (var m = 0u; m < KPT; m++) {
    r[m] = kc[slot * DU + min(sub + m * SUB, DU - 1u)];
  }
  return r;
}

// This thread's V units of step st of its lane's keys of the block at b0 (clamped to the keys before k1).
fn load_v(b0: u32, k1: u32, st: u32, vl: u32, vu0: u32, v_head: u32, v_stride: u32) -> array<VU, VREG> {
  var r: array<VU, VREG>;
  for (var e = 0u; e < VPS; e++) {
    let row = (min(b0 + vl + (st * VPS + e) * VL, k1 - 1u) % p.capacity) * v_stride + v_head;
    for (var i = 0u; i < VUT; i++) {
      r[e * VUT + i] = vc[row + min(vu0 + i * WG, VQ - 1u)];
    }
  }
  return r;
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

#if !FUSED_ROPE
  var qr: array<KU, QPT>; // units lid, lid + WG, .. of the [HG, DU] queries
  for (var r = 0u; r < QPT; r++) {
    let i = lid + r * WG;
    let hh = min(i / DU, nh - 1u);
    qr[r] = select(KU(0.0), q[(t * p.nH + h0 + hh) * DU + i % DU], i / DU < nh);
  }
#endif

  // Scores: key `key` of the block, units sub, sub + SUB, ... of its row.
  let key = lid / SUB;
  let sub = lid % SUB;
  // Values: lane vl takes keys vl, vl + VL, ... of the block; units vu0 + WG * i of the value dims.
  let vl = lid / VQ;
  let vu0 = lid % VQ;
  let v_active = vl < VL;
  let v_head = kvh * (p.v_stride / p.nKv) / VW;
  let v_stride = p.v_stride / VW;

  var run_max: array<f32, SR>; // [SR] running max of the entry's head
  var run_sum: array<f32, SR>; // [SR] running sum of exp(s - max) of the entry's key
  for (var r = 0u; r < SR; r++) {
    run_max[r] = NEG;
    run_sum[r] = 0.0;
  }
  var acc: array<VU, ${ACC}>; // [HG, VUT]
  for (var i = 0u; i < HG * VUT; i++) {
    acc[i] = VU(0.0);
  }

  // The first block's loads are in flight with the queries'; each later block's while the one before is used.
  var kr = array<KU, KPT>();
  var vr = array<VU, VREG>(); // [VPS, VUT] one step of the lane's keys
  if (k0 < k1) {
    kr = load_k(k0, k1, key, sub, kvh);
    vr = load_v(k0, k1, 0u, vl, vu0, v_head, v_stride);
  }
#if FUSED_ROPE
  let has_new = k0 <= pos && pos < k1; // this chunk holds the new position
  fused_rope_prologue(lid, nh, h0, kvh, nh + select(0u, 1u, has_new), has_new);
  workgroupBarrier();
  if (has_new && g0 == 0u) {
    let slot = pos % p.capacity;
    for (var u = lid; u < DU; u += WG) {
      kc[(slot * p.nKv + kvh) * DU + u] = fk_unit(u);
    }
    for (var u = lid; u < VQ; u += WG) {
      vc[slot * v_stride + v_head + u] = fv_unit(u);
    }
  }
#else
  for (var r = 0u; r < QPT; r++) {
    if (lid + r * WG < HG * DU) {
      qs[lid + r * WG] = qr[r];
    }
  }
  workgroupBarrier();
#endif

  for (var b0 = k0; b0 < k1; b0 += KB) {
    let nb = min(KB, k1 - b0);
    let more = b0 + KB < k1;
    var s: array<f32, HG>;
    for (var hh = 0u; hh < HG; hh++) {
      s[hh] = 0.0;
    }
#if FUSED_ROPE
    if (has_new && min(b0 + key, k1 - 1u) == pos) {
      for (var m = 0u; m < KPT; m++) {
        kr[m] = fk_unit(min(sub + m * SUB, DU - 1u));
      }
    }
#endif
    for (var m = 0u; m < KPT; m++) {
      let u = sub + m * SUB;
      if (u < DU) {
        for (var hh = 0u; hh < HG; hh++) {
          s[hh] += kdot(qs[hh * DU + u], kr[m]);
        }
      }
    }
    if (more) {
      kr = load_k(b0 + KB, k1, key, sub, kvh);
    }
    for (var hh = 0u; hh < HG; hh++) {
      sp[(hh * KB + key) * SUB + sub] = s[hh];
    }
    workgroupBarrier();
    var score: array<f32, SR>;
    for (var r = 0u; r < SR; r++) {
      let i = lid + r * WG;
      score[r] = NEG;
      if (i < HG * KB) {
        let b = i * SUB;
        if (i % KB < nb) {
          score[r] = capped((sp[b] + sp[b + 1u] + sp[b + 2u] + sp[b + 3u]) * p.scale);
        }
        ps[i] = score[r];
      }
    }
    workgroupBarrier();
    for (var r = 0u; r < SR; r++) {
      let i = lid + r * WG;
      if (i < HG * KB) {
        let hb = (i / KB) * KB;
        var mx = NEG;
        for (var jj = 0u; jj < KB; jj++) {
          mx = max(mx, ps[hb + jj]);
        }
        let mn = max(run_max[r], mx);
        let a = exp(run_max[r] - mn);
        let e = exp(score[r] - mn);
        run_sum[r] = run_sum[r] * a + e;
        run_max[r] = mn;
        pp[i] = e;
        if (i % KB == 0u) {
          alpha[i / KB] = a;
        }
      }
    }
    workgroupBarrier();

    if (v_active) {
      for (var hh = 0u; hh < HG; hh++) {
        let a = alpha[hh];
        for (var i = 0u; i < VUT; i++) {
          acc[hh * VUT + i] *= a;
        }
      }
      for (var st = 0u; st < VPL / VPS; st++) {
        if (st > 0u) {
          vr = load_v(b0, k1, st, vl, vu0, v_head, v_stride);
        }
#if FUSED_ROPE
        if (has_new) {
          for (var e = 0u; e < VPS; e++) {
            if (min(b0 + vl + (st * VPS + e) * VL, k1 - 1u) == pos) {
              for (var i = 0u; i < VUT; i++) {
                vr[e * VUT + i] = fv_unit(min(vu0 + i * WG, VQ - 1u));
              }
            }
          }
        }
#endif
        for (var hh = 0u; hh < HG; hh++) {
          for (var i = 0u; i < VUT; i++) {
            var a = acc[hh * VUT + i];
            for (var e = 0u; e < VPS; e++) {
              a += pp[hh * KB + vl + (st * VPS + e) * VL] * vr[e * VUT + i];
            }
            acc[hh * VUT + i] = a;
          }
        }
      }
    }
    if (more) {
      vr = load_v(b0 + KB, k1, 0u, vl, vu0, v_head, v_stride);
    }
    workgroupBarrier();
  }

  // The chunk's (max, sum) per head: the keys' sums added up.
  for (var r = 0u; r < SR; r++) {
    let i = lid + r * WG;
    if (i < HG * KB) {
      ps[i] = run_sum[r];
      if (i % KB == 0u) {
        head_max[i / KB] = run_max[r];
      }
    }
  }
  workgroupBarrier();
  if (lid < HG) {
    var l = 0.0;
    for (var jj = 0u; jj < KB; jj++) {
      l += ps[lid * KB + jj];
    }
    head_sum[lid] = l;
  }
  workgroupBarrier();

  // The lanes' partial values meet in workgroup memory, MH heads per pass (VL > 1 only when a thread owns
  // one unit); loops over the constant HG keep acc in registers.
  for (var ps0 = 0u; ps0 < HG; ps0 += MH) {
    if (VL > 1u) {
      if (v_active) {
        for (var j = 0u; j < MH; j++) {
          if (ps0 + j < HG) {
            sp_store(j * VL * VQ + lid, acc[(ps0 + j) * VUT]);
          }
        }
      }
      workgroupBarrier();
    }
    for (var j = 0u; j < MH; j++) {
      let hh = ps0 + j;
      if (vl == 0u && hh < nh) {
        var o: array<VU, VUT>;
        for (var i = 0u; i < VUT; i++) {
          o[i] = acc[hh * VUT + i];
        }
        if (VL > 1u) {
          for (var l = 1u; l < VL; l++) {
            o[0] += sp_unit(j * VL * VQ + l * VQ + vu0);
          }
        }
        write_head(t * p.nH + h0 + hh, h0 + hh, c, vu0, head_max[hh], head_sum[hh], o);
      }
    }
    if (VL > 1u) {
      workgroupBarrier();
    }
  }
}

// Writes this thread's units of one (row, head): normalised into `out` (one chunk), else as chunk c's part.
fn write_head(row: u32, h: u32, c: u32, vu0: u32, m: f32, l: f32, o: array<VU, VUT>) {
  if (p.direct == 1u) {
    var den = l;
    var f = 1.0;
    if (p.has_sinks == 1u) {
      let sink = sinks[h];
      let mn = max(m, sink);
      f = exp(m - mn);
      den = den * f + exp(sink - mn);
    }
    f /= den;
    for (var i = 0u; i < VUT; i++) {
      let u = vu0 + i * WG;
      if (u < VQ) {
        out_store(row * p.Dv + u * VW, o[i] * f);
      }
    }
  } else {
    let pc = row * p.n_chunks + c;
    for (var i = 0u; i < VUT; i++) {
      let u = vu0 + i * WG;
      if (u < VQ) {
        part_store(pc * p.dv4 + u * VW, o[i]);
      }
    }
    if (vu0 == 0u) {
      part[p.ml_offset + 2u * pc] = m;
      part[p.ml_offset + 2u * pc + 1u] = l;
    }
  }
}

// Merges the chunks of one (head, row): out = Σ_c acc_c e^(m_c - M) / (Σ_c l_c e^(m_c - M) [+ e^(sink - M)]).
// 256 threads: CL lanes of CQ threads (a thread per 4 value dims). Lane l takes chunks l, l + CL, ..., eight
// at a time, all loaded before any is used, and keeps its own running max, sum and values; the lanes then
// meet in a tree in workgroup memory, each side rescaled to the larger max.
const CWG: u32 = 256u;
const CQ: u32 = ${CQ}u;                     // quads of value dims per lane: ceil(Dv / 4) up to a power of two
const CL: u32 = CWG / CQ;                   // lanes over the chunks
var<workgroup> cacc: array<vec4<f32>, CWG>; // [CL, CQ] the lanes' values
var<workgroup> cml: array<vec2<f32>, CWG>;  // [CL, CQ] the lanes' (max, sum)

@compute @workgroup_size(256)
fn combine(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let h = wg.x;
  let row = wg.y * p.nH + h;
  let pc0 = row * p.n_chunks;
  let ml0 = p.ml_offset + 2u * pc0;
  let q4 = lid % CQ;
  let lane = lid / CQ;
  let d = 4u * min(q4, p.dv4 / 4u - 1u);
  var o = vec4<f32>(0.0);
  var M = NEG;
  var L = 0.0;
  for (var c0 = lane; c0 < p.n_chunks; c0 += 8u * CL) {
    var v: array<vec4<f32>, 8>;
    var m: array<f32, 8>;
    var l: array<f32, 8>;
    for (var e = 0u; e < 8u; e++) {
      let c = c0 + e * CL;
      let cc = min(c, p.n_chunks - 1u);
      let b = (pc0 + cc) * p.dv4 + d;
      v[e] = vec4<f32>(part[b], part[b + 1u], part[b + 2u], part[b + 3u]);
      m[e] = part[ml0 + 2u * cc];
      l[e] = part[ml0 + 2u * cc + 1u];
      if (c >= p.n_chunks) {
        v[e] = vec4<f32>(0.0);
        m[e] = NEG;
        l[e] = 0.0;
      }
    }
    var mx = M;
    for (var e = 0u; e < 8u; e++) {
      mx = max(mx, m[e]);
    }
    let f = exp(M - mx);
    o *= f;
    L *= f;
    for (var e = 0u; e < 8u; e++) {
      let w = exp(m[e] - mx);
      o += v[e] * w;
      L += l[e] * w;
    }
    M = mx;
  }
  cacc[lid] = o;
  cml[lid] = vec2<f32>(M, L);
  workgroupBarrier();
  for (var s = CL / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      let a = cml[lid];
      let b = cml[lid + s * CQ];
      let mx = max(a.x, b.x);
      let fa = exp(a.x - mx);
      let fb = exp(b.x - mx);
      cacc[lid] = cacc[lid] * fa + cacc[lid + s * CQ] * fb;
      cml[lid] = vec2<f32>(mx, a.y * fa + b.y * fb);
    }
    workgroupBarrier();
  }
  if (lane == 0u && 4u * q4 < p.Dv) {
    let ml = cml[q4];
    var mx = ml.x;
    var f = 1.0;
    var den = ml.y;
    if (p.has_sinks == 1u) {
      let sink = sinks[h];
      mx = max(mx, sink);
      f = exp(ml.x - mx);
      den = den * f + exp(sink - mx);
    }
    let r = cacc[q4] * (f / den);
    for (var i = 0u; i < 4u; i++) {
      if (4u * q4 + i < p.Dv) {
        out[row * p.Dv + 4u * q4 + i] = r[i];
      }
    }
  }
}
