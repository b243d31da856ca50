// Decode attention of many query heads over one kv head with a large head dim: DeepSeek MLA's latent cache
// (rows [c (R), k_rope (P)], values the first Dv = R dims of each row), split across workgroups over the keys
// (flash-decoding).
//
// Query t sits at position pos = start + t and sees keys 0..pos (slot j % capacity). The keys are cut into
// chunks of `chunk` keys (a multiple of KB); the grid has n_chunks chunks per row (the last ones possibly
// empty: the grid is fixed for a bucket of positions so that a recorded step replays unchanged). `main` runs
// one workgroup per (chunk, group of HG = 16 heads, query row); every cache row it reads serves all 16
// heads. Keys are taken KB = 32 at a time. Scores, as a small GEMM: the head dim is walked in tiles of TD
// vec4s (16, or 32 where the adapter gives 32 KiB of workgroup memory: fewer dependent load-and-barrier steps), a tile of the block's keys and of the 16 queries staged in workgroup memory (loaded coalesced, the
// next tile into registers while the current one is used), and
// thread (h = lid / 16, k = lid % 16) accumulates the scores of head h with keys k and k + 16. Online
// softmax per head (f32). Values: thread (half = lid / 128, unit u = lid % 128) accumulates the vec4s u,
// u + 128, .. of the value for the 8 heads of its half, reading each value row once per half. With one
// chunk (`direct`) the workgroup normalises and writes `out`; otherwise it writes its unnormalised
// (acc, max, sum) to `part` and `combine` merges the chunks.

struct Params {
  T: u32,          // query rows
  nH: u32,         // query heads
  DU: u32,         // vec4s of a query / cache row: D / 4
  DvU: u32,        // vec4s of a value (output row): Dv / 4, Dv <= D
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
@group(0) @binding(3) var<storage, read_write> part: array<vec4<f32>>;  // [T, nH, n_chunks, DvU] acc, then [T, nH, n_chunks] (max, sum, 0, 0)
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;   // [T, nH, DvU]

const WG: u32 = 256u;
const KB: u32 = 32u;      // keys per block
const HG: u32 = 16u;      // query heads per workgroup
const TD: u32 = ${TD}u;   // vec4s of the head dim per tile: 16, or 32 where 32 KiB of workgroup memory is there
const KS: u32 = TD + 1u;  // row stride (vec4s) of the key tile, padded against bank conflicts
const KL: u32 = KB * TD / WG; // key vec4s each thread loads per tile
const QL: u32 = HG * TD / WG; // query vec4s each thread loads per tile
const VH: u32 = 8u;       // heads per thread in the value phase
const DVT: u32 = ${DVT}u; // value vec4s per thread: ceil(DvU / 128)
const NEG: f32 = -3.0e38;

var<workgroup> kt: array<vec4<f32>, KB * KS>; // [KB, KS] a tile of the block's keys
var<workgroup> qt: array<vec4<f32>, HG * TD>; // [HG, TD] the same tile of the queries
var<workgroup> ps: array<f32, 512>;       // [HG, KB] probabilities of the block
var<workgroup> red: array<f32, 256>;      // [HG, 16] per-thread max, then sum
var<workgroup> run_max: array<f32, HG>;   // [HG] running max
var<workgroup> run_sum: array<f32, HG>;   // [HG] running sum of exp(s - max)
var<workgroup> alpha: array<f32, HG>;     // [HG] exp(old max - new max) of the block

struct Tile {
  k: array<vec4<f32>, KL>, // i < KL: element lid + i * WG of the [KB, TD] key tile
  q: array<vec4<f32>, QL>, // i < QL: element lid + i * WG of the [HG, TD] query tile
}

// This thread's share of the tile of vec4s u0 .. u0 + TD of the block's keys (from b0, nb of them) and of
// the queries (zero past the keys, the heads and the head dim).
fn load_tile(b0: u32, nb: u32, u0: u32, t: u32, h0: u32, nh: u32, lid: u32) -> Tile {
  var r: Tile;
  for (var i = 0u; i < KL; i++) {
    let e = lid + i * WG;
    let kk = e / TD;
    let u = u0 + e % TD;
    var v = vec4<f32>(0.0);
    if (kk < nb && u < p.DU) {
      v = kc[((b0 + kk) % p.capacity) * p.DU + u];
    }
    r.k[i] = v;
  }
  for (var i = 0u; i < QL; i++) {
    let e = lid + i * WG;
    let hh = e / TD;
    let u = u0 + e % TD;
    var v = vec4<f32>(0.0);
    if (hh < nh && u < p.DU) {
      v = q[(t * p.nH + h0 + hh) * p.DU + u];
    }
    r.q[i] = v;
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

  if (lid < HG) {
    run_max[lid] = NEG;
    run_sum[lid] = 0.0;
  }
  var acc: array<vec4<f32>, ${ACC}>; // [VH, DVT]
  for (var i = 0u; i < VH * DVT; i++) {
    acc[i] = vec4<f32>(0.0);
  }
  let sh = lid / 16u;        // score thread: head
  let sk = lid % 16u;        // and keys sk, sk + 16
  let vh0 = (lid / 128u) * VH; // value thread: first head
  let vu = lid % 128u;       // and first vec4
  workgroupBarrier();

  for (var b0 = k0; b0 < k1; b0 += KB) {
    let nb = min(KB, k1 - b0);
    var s0 = 0.0;
    var s1 = 0.0;
    // The next tile is loaded into registers while the current one is used.
    var nxt = load_tile(b0, nb, 0u, t, h0, nh, lid);
    for (var u0 = 0u; u0 < p.DU; u0 += TD) {
      for (var i = 0u; i < KL; i++) {
        let e = lid + i * WG;
        kt[(e / TD) * KS + e % TD] = nxt.k[i];
      }
      for (var i = 0u; i < QL; i++) {
        qt[lid + i * WG] = nxt.q[i];
      }
      workgroupBarrier();
      if (u0 + TD < p.DU) {
        nxt = load_tile(b0, nb, u0 + TD, t, h0, nh, lid);
      }
      for (var u = 0u; u < TD; u++) {
        let a = qt[sh * TD + u];
        s0 += dot(a, kt[sk * KS + u]);
        s1 += dot(a, kt[(sk + 16u) * KS + u]);
      }
      workgroupBarrier();
    }
    s0 = select(NEG, s0 * p.scale, sk < nb);
    s1 = select(NEG, s1 * p.scale, sk + 16u < nb);
    red[lid] = max(s0, s1);
    workgroupBarrier();
    if (lid < HG) {
      var mx = NEG;
      for (var i = 0u; i < 16u; i++) {
        mx = max(mx, red[lid * 16u + i]);
      }
      let old = run_max[lid];
      let mn = max(old, mx);
      alpha[lid] = exp(old - mn);
      run_max[lid] = mn;
    }
    workgroupBarrier();
    let m = run_max[sh];
    let p0 = select(0.0, exp(s0 - m), sk < nb);
    let p1 = select(0.0, exp(s1 - m), sk + 16u < nb);
    ps[sh * KB + sk] = p0;
    ps[sh * KB + sk + 16u] = p1;
    red[lid] = p0 + p1;
    workgroupBarrier();
    if (lid < HG) {
      var sum = 0.0;
      for (var i = 0u; i < 16u; i++) {
        sum += red[lid * 16u + i];
      }
      run_sum[lid] = run_sum[lid] * alpha[lid] + sum;
    }
    for (var i = 0u; i < DVT; i++) {
      let u = vu + i * 128u;
      if (u < p.DvU) {
        for (var hh = 0u; hh < VH; hh++) {
          acc[hh * DVT + i] *= alpha[vh0 + hh];
        }
        // Eight keys per step: their loads are independent, so they are in flight together.
        var jj = 0u;
        for (; jj + 8u <= nb; jj += 8u) {
          var v: array<vec4<f32>, 8>;
          for (var e = 0u; e < 8u; e++) {
            v[e] = kc[((b0 + jj + e) % p.capacity) * p.DU + u];
          }
          for (var hh = 0u; hh < VH; hh++) {
            let pr = (vh0 + hh) * KB + jj;
            var a = acc[hh * DVT + i];
            for (var e = 0u; e < 8u; e++) {
              a += ps[pr + e] * v[e];
            }
            acc[hh * DVT + i] = a;
          }
        }
        for (; jj < nb; jj++) {
          let v = kc[((b0 + jj) % p.capacity) * p.DU + u];
          for (var hh = 0u; hh < VH; hh++) {
            acc[hh * DVT + i] += ps[(vh0 + hh) * KB + jj] * v;
          }
        }
      }
    }
    workgroupBarrier();
  }

  for (var hh = 0u; hh < VH; hh++) {
    let hl = vh0 + hh;
    if (hl < nh) {
      let row = t * p.nH + h0 + hl; // (t, h)
      if (p.direct == 1u) {
        let f = 1.0 / run_sum[hl];
        for (var i = 0u; i < DVT; i++) {
          let u = vu + i * 128u;
          if (u < p.DvU) {
            out[row * p.DvU + u] = acc[hh * DVT + i] * f;
          }
        }
      } else {
        let pc = row * p.n_chunks + c;
        for (var i = 0u; i < DVT; i++) {
          let u = vu + i * 128u;
          if (u < p.DvU) {
            part[pc * p.DvU + u] = acc[hh * DVT + i];
          }
        }
        if (vu == 0u) {
          part[p.ml_offset + pc] = vec4<f32>(run_max[hl], run_sum[hl], 0.0, 0.0);
        }
      }
    }
  }
}

// Merges the chunks of one (head, 32 vec4s of the value, row): out = Σ_c acc_c e^(m_c - M) / Σ_c l_c e^(m_c - M).
// 256 threads: the max and the sum are reduced over the chunks in workgroup memory, then 8 lanes of 32
// threads each take an eighth of the chunks for every vec4 and add up in workgroup memory.
const MAX_CHUNKS: u32 = 256u;
var<workgroup> cw: array<f32, MAX_CHUNKS>; // [n_chunks] e^(m_c - M)
var<workgroup> cred: array<f32, WG>;       // reduction scratch
var<workgroup> cv: array<vec4<f32>, WG>;   // [8 lanes, 32 vec4s]

fn reduce(v: f32, lid: u32, is_max: bool) -> f32 {
  cred[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      cred[lid] = select(cred[lid] + cred[lid + s], max(cred[lid], cred[lid + s]), is_max);
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
  let row = wg.z * p.nH + h;
  let pc0 = row * p.n_chunks;
  let ml0 = p.ml_offset + pc0;
  var mx = NEG;
  for (var c = lid; c < p.n_chunks; c += WG) {
    mx = max(mx, part[ml0 + c].x);
  }
  let M = reduce(mx, lid, true);
  var sum = 0.0;
  for (var c = lid; c < p.n_chunks; c += WG) {
    let ml = part[ml0 + c];
    let w = exp(ml.x - M);
    cw[c] = w;
    sum += ml.y * w;
  }
  let L = reduce(sum, lid, false); // its barriers also publish cw
  let lane = lid / 32u;
  let u = wg.y * 32u + lid % 32u;
  var o = vec4<f32>(0.0);
  if (u < p.DvU) {
    for (var c = lane; c < p.n_chunks; c += 8u) {
      o += part[(pc0 + c) * p.DvU + u] * cw[c];
    }
  }
  cv[lid] = o;
  workgroupBarrier();
  if (lane == 0u && u < p.DvU) {
    var s = cv[lid];
    for (var i = 1u; i < 8u; i++) {
      s += cv[i * 32u + lid];
    }
    out[row * p.DvU + u] = s / L;
  }
}
