// Token sampling on the GPU for one row of logits [V] f32; only the id is read back.
//
// Passes (one entry point each, same bindings):
//   prep    V/1024 workgroups: z = penalised logits / temperature (HF repetition penalty, OpenAI
//           frequency / presence penalties from counts) into z, -inf where the grammar's bitmask has a 0
//           bit; per-block max and first argmax.
//   reduce  1 workgroup: global max zmax and its first index (the greedy id: written to out).
//   hist    V/1024 workgroups, one per radix digit (8 bits of the order-preserving u32 key of z, from
//           the top): per-block 256-bin histograms of count and mass exp(z - zmax) of the elements whose
//           higher digits equal the prefix found so far (and whose key >= lo).
//   select  1 workgroup, one thread per bin: sums the blocks' histograms and walks bins from the top to
//           the bin where the running count reaches k (top-k) or the running mass reaches
//           p * mass(key >= lo) (top-p), extending the prefix. After 4 digits the prefix is the exact
//           key of the threshold element: ties at the threshold are kept, as transformers' top-k does.
//   mass    V/1024 workgroups: per-block mass of the kept elements (key >= max(tauK, tauP) and
//           exp(z - zmax) >= minP).
//   pick    1 workgroup: inverse CDF with `random` over the kept elements in index order (-inf never kept).
//   countToken (COUNT_TOKEN variant): counts[id] += 1 for the sampled id, on the GPU.
// Sums run in a fixed order (sequential per thread, then a fixed tree), so a draw is deterministic.

#if COUNT_TOKEN
struct CountParams {
  V: u32,
  from_param: u32, // 1: the id is `id` below, not sampled[0]
  id: u32,
}
@group(0) @binding(0) var<uniform> cp: CountParams;
@group(0) @binding(1) var<storage, read_write> counts_rw: array<u32>; // [V] u32
@group(0) @binding(2) var<storage, read> sampled: array<u32>;         // [1] u32 (unused with from_param)

@compute @workgroup_size(1)
fn count_token() {
  let id = select(sampled[0], cp.id, cp.from_param == 1u);
  if (id < cp.V) {
    counts_rw[id] += 1u;
  }
}
#else
const WG: u32 = 256u;
const CHUNK: u32 = 1024u;

struct Params {
  V: u32,
  nb: u32,            // blocks of CHUNK
  inv_temp: f32,      // 1 / temperature (1 for greedy)
  rep: f32,           // repetition penalty (1: none)
  freq: f32,          // frequency penalty
  pres: f32,          // presence penalty
  has_counts: u32,
  digit: u32,         // hist / select: 0..3 from the top byte
  mode: u32,          // select: 0 top-k (count), 1 top-p (mass)
  k: u32,
  p: f32,
  min_p: f32,         // 0: off
  random: f32,
  use_k: u32,
  use_p: u32,
  has_mask: u32,
}

@group(0) @binding(0) var<uniform> pr: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;       // [V] f32
@group(0) @binding(2) var<storage, read> counts: array<u32>;       // [V] u32 (unused without has_counts)
@group(0) @binding(3) var<storage, read_write> z: array<f32>;      // [V] f32 scratch
@group(0) @binding(4) var<storage, read_write> blocks: array<u32>; // [nb, 2] block max (f32 bits) / argmax, or block mass
@group(0) @binding(5) var<storage, read_write> hist: array<u32>;   // [nb, 256, 2] count, mass (f32 bits)
@group(0) @binding(6) var<storage, read_write> state: array<u32>;  // [8] see S_* below
@group(0) @binding(7) var<storage, read_write> out: array<u32>;    // [1] u32 sampled id
@group(0) @binding(8) var<storage, read> mask: array<u32>;         // [ceil(V / 32)] u32 bit i%32 of word i/32: token i allowed (unused without has_mask)

const S_ZMAX: u32 = 0u;     // f32 bits
const S_ARGMAX: u32 = 1u;
const S_PREFIX: u32 = 2u;   // key bits found so far
const S_ABOVE_N: u32 = 3u;  // count of elements above the prefix's range
const S_ABOVE_M: u32 = 4u;  // mass above (f32 bits)
const S_TAU_K: u32 = 5u;    // top-k threshold key (0: none)
const S_TARGET: u32 = 6u;   // top-p goal mass (f32 bits)
const S_TAU_P: u32 = 7u;    // top-p threshold key (0: none)

var<workgroup> wmax: array<f32, WG>;
var<workgroup> warg: array<u32, WG>;
var<workgroup> wsum: array<f32, WG>;
var<workgroup> chunk: array<f32, CHUNK>;
var<workgroup> bcount: array<u32, WG>;
var<workgroup> bmass: array<f32, WG>;

// Order-preserving map of f32 to u32 (larger float, larger key).
fn key_of(v: f32) -> u32 {
  let u = bitcast<u32>(v);
  return select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u);
}

// -inf at run time (a constant -inf is a WGSL error).
fn neg_inf() -> f32 {
  var bits = 0xff800000u;
  return bitcast<f32>(bits);
}

// Max with the first index on ties; NaN never wins.
fn better(v: f32, i: u32, bv: f32, bi: u32) -> bool {
  return v > bv || (v == bv && i < bi);
}

fn reduce_max(lid: u32) {
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s && better(wmax[lid + s], warg[lid + s], wmax[lid], warg[lid])) {
      wmax[lid] = wmax[lid + s];
      warg[lid] = warg[lid + s];
    }
    workgroupBarrier();
  }
}

fn reduce_sum(lid: u32) {
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      wsum[lid] += wsum[lid + s];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn prep(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let lid = l.x;
  var bv = neg_inf();
  var bi = 0xffffffffu;
  for (var j = 0u; j < CHUNK / WG; j++) {
    let i = wg.x * CHUNK + j * WG + lid;
    if (i < pr.V) {
      var v = logits[i];
      if (pr.has_counts == 1u) {
        let c = counts[i];
        if (c > 0u) {
          v = select(v * pr.rep, v / pr.rep, v > 0.0);
          v -= pr.freq * f32(c) + pr.pres;
        }
      }
      v *= pr.inv_temp;
      if (pr.has_mask == 1u && ((mask[i >> 5u] >> (i & 31u)) & 1u) == 0u) {
        v = neg_inf();
      }
      z[i] = v;
      if (better(v, i, bv, bi)) {
        bv = v;
        bi = i;
      }
    }
  }
  wmax[lid] = bv;
  warg[lid] = bi;
  workgroupBarrier();
  reduce_max(lid);
  if (lid == 0u) {
    blocks[2u * wg.x] = bitcast<u32>(wmax[0]);
    blocks[2u * wg.x + 1u] = warg[0];
  }
}

@compute @workgroup_size(WG)
fn reduce(@builtin(local_invocation_id) l: vec3<u32>) {
  let lid = l.x;
  var bv = neg_inf();
  var bi = 0xffffffffu;
  for (var b = lid; b < pr.nb; b += WG) {
    let v = bitcast<f32>(blocks[2u * b]);
    let i = blocks[2u * b + 1u];
    if (better(v, i, bv, bi)) {
      bv = v;
      bi = i;
    }
  }
  wmax[lid] = bv;
  warg[lid] = bi;
  workgroupBarrier();
  reduce_max(lid);
  if (lid == 0u) {
    // All-NaN or all -inf rows keep index 0.
    let id = select(warg[0], 0u, warg[0] >= pr.V);
    state[S_ZMAX] = bitcast<u32>(wmax[0]);
    state[S_ARGMAX] = id;
    state[S_PREFIX] = 0u;
    state[S_ABOVE_N] = 0u;
    state[S_ABOVE_M] = 0u;
    state[S_TAU_K] = 0u;
    state[S_TARGET] = 0u;
    state[S_TAU_P] = 0u;
    out[0] = id;
  }
}

fn lo_key() -> u32 {
  return select(0u, state[S_TAU_K], pr.mode == 1u);
}

@compute @workgroup_size(WG)
fn hist_pass(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let lid = l.x;
  for (var j = 0u; j < CHUNK / WG; j++) {
    let i = wg.x * CHUNK + j * WG + lid;
    chunk[j * WG + lid] = select(0.0, z[min(i, pr.V - 1u)], i < pr.V);
  }
  workgroupBarrier();
  let zmax = bitcast<f32>(state[S_ZMAX]);
  let prefix = state[S_PREFIX];
  let lo = lo_key();
  let shift = 24u - 8u * pr.digit;
  let n = min(CHUNK, pr.V - wg.x * CHUNK);
  var cnt = 0u;
  var mass = 0.0;
  // Thread lid owns bin lid and scans the chunk in index order.
  for (var j = 0u; j < n; j++) {
    let v = chunk[j];
    let kk = key_of(v);
    let high_ok = pr.digit == 0u || (kk >> (shift + 8u)) == (prefix >> (shift + 8u));
    if (high_ok && kk >= lo && ((kk >> shift) & 255u) == lid) {
      cnt += 1u;
      mass += exp(v - zmax);
    }
  }
  let o = (wg.x * WG + lid) * 2u;
  hist[o] = cnt;
  hist[o + 1u] = bitcast<u32>(mass);
}

@compute @workgroup_size(WG)
fn select_pass(@builtin(local_invocation_id) l: vec3<u32>) {
  let lid = l.x;
  var cnt = 0u;
  var mass = 0.0;
  for (var b = 0u; b < pr.nb; b++) {
    let o = (b * WG + lid) * 2u;
    cnt += hist[o];
    mass += bitcast<f32>(hist[o + 1u]);
  }
  bcount[lid] = cnt;
  bmass[lid] = mass;
  workgroupBarrier();
  if (lid != 0u) {
    return;
  }
  var above_n = state[S_ABOVE_N];
  var above_m = bitcast<f32>(state[S_ABOVE_M]);
  var goal = bitcast<f32>(state[S_TARGET]);
  if (pr.digit == 0u) {
    above_n = 0u;
    above_m = 0.0;
    if (pr.mode == 1u) {
      var total = 0.0;
      for (var b = 0u; b < WG; b++) {
        total += bmass[b];
      }
      goal = pr.p * total;
      state[S_TARGET] = bitcast<u32>(goal);
    }
  }
  var lowest = 0u;
  for (var b = 0u; b < WG; b++) {
    if (bcount[b] > 0u) {
      lowest = b;
      break;
    }
  }
  var chosen = lowest;
  var n = above_n;
  var m = above_m;
  for (var bb = 0u; bb < WG; bb++) {
    let b = WG - 1u - bb;
    let reached = select(n + bcount[b] >= pr.k, m + bmass[b] >= goal, pr.mode == 1u);
    if (bcount[b] > 0u && (reached || b == lowest)) {
      chosen = b;
      break;
    }
    n += bcount[b];
    m += bmass[b];
  }
  let shift = 24u - 8u * pr.digit;
  let prefix = select(state[S_PREFIX], 0u, pr.digit == 0u) | (chosen << shift);
  state[S_PREFIX] = prefix;
  state[S_ABOVE_N] = n;
  state[S_ABOVE_M] = bitcast<u32>(m);
  if (pr.digit == 3u) {
    state[select(S_TAU_K, S_TAU_P, pr.mode == 1u)] = prefix;
  }
}

fn kept(v: f32, zmax: f32, tau: u32) -> bool {
  return v > neg_inf() && key_of(v) >= tau && exp(v - zmax) >= pr.min_p;
}

@compute @workgroup_size(WG)
fn mass_pass(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let lid = l.x;
  let zmax = bitcast<f32>(state[S_ZMAX]);
  let tau = max(state[S_TAU_K], state[S_TAU_P]);
  var s = 0.0;
  for (var j = 0u; j < CHUNK / WG; j++) {
    let i = wg.x * CHUNK + lid * (CHUNK / WG) + j;
    if (i < pr.V) {
      let v = z[i];
      if (kept(v, zmax, tau)) {
        s += exp(v - zmax);
      }
    }
  }
  wsum[lid] = s;
  workgroupBarrier();
  reduce_sum(lid);
  if (lid == 0u) {
    blocks[2u * wg.x] = bitcast<u32>(wsum[0]);
  }
}

@compute @workgroup_size(1)
fn pick() {
  let zmax = bitcast<f32>(state[S_ZMAX]);
  let tau = max(state[S_TAU_K], state[S_TAU_P]);
  var total = 0.0;
  for (var b = 0u; b < pr.nb; b++) {
    total += bitcast<f32>(blocks[2u * b]);
  }
  let goal = pr.random * total;
  var acc = 0.0;
  var blk = pr.nb;
  for (var b = 0u; b < pr.nb; b++) {
    let m = bitcast<f32>(blocks[2u * b]);
    if (m > 0.0 && acc + m > goal) {
      blk = b;
      break;
    }
    acc += m;
  }
  var id = state[S_ARGMAX];
  if (blk < pr.nb) {
    let end = min(pr.V, (blk + 1u) * CHUNK);
    for (var i = blk * CHUNK; i < end; i++) {
      let v = z[i];
      if (kept(v, zmax, tau)) {
        id = i;
        acc += exp(v - zmax);
        if (acc > goal) {
          break;
        }
      }
    }
  }
  out[0] = id;
}

#endif
