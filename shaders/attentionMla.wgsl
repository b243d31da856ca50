// Decode attention of many query heads over one kv head with a large head dim: DeepSeek MLA's latent cache
// (rows [c (R), k_rope (P)], values the first Dv = R dims of each row), split across workgroups over the keys
// (flash-decoding).
//
// Query t sits at position pos = start + t and sees keys 0..pos (slot j % capacity). The keys are cut into
// chunks of `chunk` keys (a multiple of KB); the grid has n_chunks chunks per row (the last ones possibly
// empty: the grid is fixed for a bucket of positions so that a recorded step replays unchanged). `main` runs
// one workgroup per (chunk, group of HG heads, query row); every cache row it reads serves all HG heads.
//
// Built around latency (as shaders/attentionDecode.wgsl): a chunk is one or a few blocks of KB = 32 keys, and
// a block costs three barriers and no exposed trip to memory but its first. Each block's K rows are requested
// whole into registers before any is used (the first block's with the queries', each next block's while the
// one before is used): thread (key = lid / S, sub = lid % S) holds the vec4s sub, sub + S, .. of its key's row
// (KPT of them) and sums their dots with the HG queries (in workgroup memory) over those dims; the S partial
// scores of a (head, key) meet in workgroup memory once (barrier 1). Softmax: a thread per (head, key) adds
// its partials (barrier 2), reads its head's block max from workgroup memory and keeps the head's running max
// and its key's running sum in registers (online softmax, f32; barrier 3). Values: thread (half = lid / 128,
// u = lid % 128) accumulates the vec4s u, u + 128, .. of the value for the VH heads of its half; the block's
// value rows are the K rows just read (L1), requested VPS keys at a time, the first step before the softmax's
// barriers so that they are in flight meanwhile. With one chunk (`direct`) the workgroup normalises and
// writes `out`; otherwise it writes its unnormalised (acc, max, sum) to `part` and `combine` merges the chunks.

struct Params {
  T: u32,          // query rows
  nH: u32,         // query heads
  capacity: u32,   // cache slots
  start: u32,      // position of query row 0
  chunk: u32,      // keys per workgroup (a multiple of KB)
  n_chunks: u32,   // chunks per query row
  direct: u32,     // 1: one chunk, write `out` directly
  scale: f32,      // applied to q·k
  ml_offset: u32,  // index (vec4s) in `part` of the (max, sum) of every (row, head, chunk)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;           // [T, nH, DU]
@group(0) @binding(2) var<storage, read> kc: array<vec4<f32>>;          // [capacity, DU] (one kv head)
@group(0) @binding(3) var<storage, read_write> part: array<vec4<f32>>;  // [T, nH, n_chunks, DVU] acc, then [T, nH, n_chunks] (max, sum, 0, 0)
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;   // [T, nH, DVU]

const WG: u32 = 256u;
const KB: u32 = 32u;      // keys per block
const S: u32 = 8u;        // threads per key in the scores (WG = KB * S)
const HG: u32 = ${HG}u;   // query heads per workgroup
const DU: u32 = ${DU}u;   // vec4s of a query / cache row: D / 4
const DVU: u32 = ${DVU}u; // vec4s of a value (output row): Dv / 4, Dv <= D
const KPT: u32 = ${KPT}u; // K vec4s per thread and block: ceil(DU / S)
const QPT: u32 = ${QPT}u; // query vec4s a thread loads: ceil(HG * DU / WG)
const SR: u32 = ${SR}u;   // (head, key) softmax entries per thread: ceil(HG * KB / WG)
const VH: u32 = ${VH}u;   // heads per value thread: ceil(HG / 2)
const DVT: u32 = ${DVT}u; // value vec4s per thread: ceil(DVU / 128)
const VPS: u32 = ${VPS}u; // keys whose value vec4s a thread requests at once (KB / VPS steps a block)
const NEG: f32 = -3.0e38;

var<workgroup> qs: array<vec4<f32>, ${QS}>; // [HG, DU] the queries
var<workgroup> sp: array<f32, ${SP}>;       // [HG, KB, S] partial scores of a block
var<workgroup> ps: array<f32, ${PS}>;       // [HG, KB] scores of a block; at the end the keys' running sums
var<workgroup> pp: array<f32, ${PS}>;       // [HG, KB] their probabilities
var<workgroup> alpha: array<f32, HG>;       // [HG] exp(old max - new max) of the block
var<workgroup> head_max: array<f32, HG>;    // [HG] max of the chunk's scores

// This thread's K vec4s of key b0 + key (clamped to the keys before k1): sub, sub + S, .. (clamped to the row).
fn load_k(b0: u32, k1: u32, key: u32, sub: u32) -> array<vec4<f32>, KPT> {
  let row = (min(b0 + key, k1 - 1u) % p.capacity) * DU;
  var r: array<vec4<f32>, KPT>;
  for (var m = 0u; m < KPT; m++) {
    r[m] = kc[row + min(sub + m * S, DU - 1u)];
  }
  return r;
}

// This thread's value vec4s u, u + 128, .. of keys b0 + st * VPS .. + VPS (clamped to the keys before k1).
fn load_v(b0: u32, k1: u32, st: u32, u: u32) -> array<vec4<f32>, ${VREG}> {
  var r: array<vec4<f32>, ${VREG}>; // [VPS, DVT]
  for (var e = 0u; e < VPS; e++) {
    let row = (min(b0 + st * VPS + e, k1 - 1u) % p.capacity) * DU;
    for (var i = 0u; i < DVT; i++) {
      r[e * DVT + i] = kc[row + min(u + i * 128u, DVU - 1u)];
    }
  }
  return r;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let c = wg.x;
  let h0 = wg.y * HG;
  let nh = min(HG, p.nH - h0);
  let t = wg.z;
  let pos = p.start + t;
  let k0 = c * p.chunk;
  let k1 = min(k0 + p.chunk, pos + 1u); // k1 <= k0: an empty chunk of the bucket's grid

  var qr: array<vec4<f32>, QPT>; // vec4s lid, lid + WG, .. of the [HG, DU] queries (zero past the heads)
  for (var r = 0u; r < QPT; r++) {
    let i = lid + r * WG;
    let hh = i / DU;
    qr[r] = select(vec4<f32>(0.0), q[(t * p.nH + h0 + min(hh, nh - 1u)) * DU + i % DU], hh < nh);
  }
  let key = lid / S;          // score thread: key of the block
  let sub = lid % S;          // and vec4s sub, sub + S, .. of its row
  let vh0 = (lid / 128u) * VH; // value thread: first head
  let vu = lid % 128u;        // and first vec4
  var run_max: array<f32, SR>; // running max of the entry's head
  var run_sum: array<f32, SR>; // running sum of exp(s - max) of the entry's key
  for (var r = 0u; r < SR; r++) {
    run_max[r] = NEG;
    run_sum[r] = 0.0;
  }
  var acc: array<vec4<f32>, ${ACC}>; // [VH, DVT]
  for (var i = 0u; i < VH * DVT; i++) {
    acc[i] = vec4<f32>(0.0);
  }

  // The first block's K loads are in flight with the queries'.
  var kr = array<vec4<f32>, KPT>();
  if (k0 < k1) {
    kr = load_k(k0, k1, key, sub);
  }
  for (var r = 0u; r < QPT; r++) {
    if (lid + r * WG < HG * DU) {
      qs[lid + r * WG] = qr[r];
    }
  }
  workgroupBarrier();

  // No barrier closes a block: every workgroup array a block writes was last read before one of the next
  // block's three barriers that precede the write.
  for (var b0 = k0; b0 < k1; b0 += KB) {
    let nb = min(KB, k1 - b0);
    var s: array<f32, HG>;
    for (var hh = 0u; hh < HG; hh++) {
      s[hh] = 0.0;
    }
    for (var m = 0u; m < KPT; m++) {
      let u = sub + m * S;
      if (u < DU) {
        for (var hh = 0u; hh < HG; hh++) {
          s[hh] += dot(qs[hh * DU + u], kr[m]);
        }
      }
    }
    // The K registers are free: the next block's rows are requested, and this block's first value step (rows
    // the workgroup has just read), both in flight through the softmax.
    var vr = load_v(b0, k1, 0u, vu);
    if (b0 + KB < k1) {
      kr = load_k(b0 + KB, k1, key, sub);
    }
    for (var hh = 0u; hh < HG; hh++) {
      sp[(hh * KB + key) * S + sub] = s[hh];
    }
    workgroupBarrier();
    var score: array<f32, SR>;
    for (var r = 0u; r < SR; r++) {
      let i = lid + r * WG;
      score[r] = NEG;
      if (i < HG * KB) {
        if (i % KB < nb) {
          var a = 0.0;
          for (var j = 0u; j < S; j++) {
            a += sp[i * S + j];
          }
          score[r] = a * p.scale;
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
        for (var j = 0u; j < KB; j++) {
          mx = max(mx, ps[hb + j]);
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

    // Heads past HG (HG odd) repeat the last one and are never written.
    for (var hh = 0u; hh < VH; hh++) {
      let a = alpha[min(vh0 + hh, HG - 1u)];
      for (var i = 0u; i < DVT; i++) {
        acc[hh * DVT + i] *= a;
      }
    }
    for (var st = 0u; st < KB / VPS; st++) {
      if (st > 0u) {
        vr = load_v(b0, k1, st, vu);
      }
      for (var hh = 0u; hh < VH; hh++) {
        let pr = min(vh0 + hh, HG - 1u) * KB + st * VPS;
        for (var i = 0u; i < DVT; i++) {
          var a = acc[hh * DVT + i];
          for (var e = 0u; e < VPS; e++) {
            a += pp[pr + e] * vr[e * DVT + i];
          }
          acc[hh * DVT + i] = a;
        }
      }
    }
  }

  // The chunk's (max, sum) per head: the keys' running sums, added up by the value threads.
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
  for (var hh = 0u; hh < VH; hh++) {
    let hl = vh0 + hh;
    if (hl < nh) {
      var l = 0.0;
      for (var j = 0u; j < KB; j++) {
        l += ps[hl * KB + j];
      }
      let row = t * p.nH + h0 + hl; // (t, h)
      if (p.direct == 1u) {
        let f = 1.0 / l;
        for (var i = 0u; i < DVT; i++) {
          let u = vu + i * 128u;
          if (u < DVU) {
            out[row * DVU + u] = acc[hh * DVT + i] * f;
          }
        }
      } else {
        let pc = row * p.n_chunks + c;
        for (var i = 0u; i < DVT; i++) {
          let u = vu + i * 128u;
          if (u < DVU) {
            part[pc * DVU + u] = acc[hh * DVT + i];
          }
        }
        if (vu == 0u) {
          part[p.ml_offset + pc] = vec4<f32>(head_max[hl], l, 0.0, 0.0);
        }
      }
    }
  }
}

// Merges the chunks of one (head, CQ vec4s of the value, row): out = Σ_c acc_c e^(m_c - M) / Σ_c l_c e^(m_c - M).
// 256 threads: CL lanes of CQ threads. Lane l takes chunks l, l + CL, .., eight at a time, all loaded before
// any is used, and keeps its own running max, sum and values; the lanes then meet in a tree in workgroup
// memory (log2 CL barriers), each side rescaled to the larger max.
const CQ: u32 = 32u;                       // value vec4s per workgroup
const CL: u32 = WG / CQ;                   // lanes over the chunks
var<workgroup> cacc: array<vec4<f32>, WG>; // [CL, CQ] the lanes' values
var<workgroup> cml: array<vec2<f32>, WG>;  // [CL, CQ] the lanes' (max, sum)

@compute @workgroup_size(256)
fn combine(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let row = wg.z * p.nH + wg.x;
  let pc0 = row * p.n_chunks;
  let lane = lid / CQ;
  let u = wg.y * CQ + lid % CQ;
  let uc = min(u, DVU - 1u);
  var o = vec4<f32>(0.0);
  var M = NEG;
  var L = 0.0;
  for (var c0 = lane; c0 < p.n_chunks; c0 += 8u * CL) {
    var v: array<vec4<f32>, 8>;
    var ml: array<vec4<f32>, 8>;
    for (var e = 0u; e < 8u; e++) {
      let cc = min(c0 + e * CL, p.n_chunks - 1u);
      v[e] = part[(pc0 + cc) * DVU + uc];
      ml[e] = part[p.ml_offset + pc0 + cc];
    }
    var mx = M;
    for (var e = 0u; e < 8u; e++) {
      if (c0 + e * CL < p.n_chunks) {
        mx = max(mx, ml[e].x);
      }
    }
    let f = exp(M - mx);
    o *= f;
    L *= f;
    for (var e = 0u; e < 8u; e++) {
      if (c0 + e * CL < p.n_chunks) {
        let w = exp(ml[e].x - mx);
        o += v[e] * w;
        L += ml[e].y * w;
      }
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
  if (lane == 0u && u < DVU) {
    out[row * DVU + u] = cacc[lid] / cml[lid].y;
  }
}
