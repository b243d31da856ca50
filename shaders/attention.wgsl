// Causal attention of T queries over a KV cache, one workgroup per (head, query row).
//
// The keys of query t (position p = start + t) are positions lo..p, lo = max(0, p + 1 - window) for a
// sliding window, else 0; position j lives in cache slot j % capacity (full caches never wrap; rotating
// window caches do). Keys are taken 64 at a time: each thread scores one key, the workgroup reduces the
// chunk's max and sum, and every thread rescales and accumulates the value dims it owns (online softmax,
// f32 throughout). Options: GQA/MQA (kv head = h / (nH / nKv)), logit softcap, attention sinks (an extra
// logit per head that only enters the denominator), and V taken from the first hdV dims of each K row (MLA's
// latent cache).

struct Params {
  T: u32,         // query rows
  nH: u32,        // query heads
  nKv: u32,       // kv heads
  hd: u32,        // q/k head dim
  hdV: u32,       // v head dim (output)
  capacity: u32,  // cache slots
  start: u32,     // position of query row 0
  window: u32,    // sliding window (keys p-window+1..p), 0 = full causal
  scale: f32,     // softmax scale applied to q·k
  softcap: f32,   // cap * tanh(s / cap) when > 0
  has_sinks: u32, // 1: sinks[h] joins the softmax denominator
  v_from_k: u32,  // 1: V is the first hdV dims of each K row (vc is kc)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;        // [T, nH, hd] f32
@group(0) @binding(2) var<storage, read> kc: array<f32>;       // [capacity, nKv, hd] f32
@group(0) @binding(3) var<storage, read> vc: array<f32>;       // [capacity, nKv, hdV] f32 (ignored when v_from_k)
@group(0) @binding(4) var<storage, read> sinks: array<f32>;    // [nH] f32 (ignored unless has_sinks)
@group(0) @binding(5) var<storage, read_write> out: array<f32>; // [T, nH, hdV] f32

const WG: u32 = 64u;
const MAX_HD: u32 = 1024u;  // largest q/k head dim (MLA: kv_lora_rank + rope dim = 576)
const DPT: u32 = 16u;       // value dims per thread: hdV <= WG * DPT = 1024

var<workgroup> qs: array<f32, 1024>; // [hd] the query row
var<workgroup> ps: array<f32, 64>;   // [WG] scores, then probabilities of the chunk
var<workgroup> red: array<f32, 64>;  // [WG] reduction scratch

fn reduce_max(v: f32, tid: u32) -> f32 {
  red[tid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] = max(red[tid], red[tid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(v: f32, tid: u32) -> f32 {
  red[tid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] = red[tid] + red[tid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

const NEG_INF: f32 = -3.0e38;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let h = wg.x;
  let t = wg.y;
  let tid = lid.x;
  let kvh = h / (p.nH / p.nKv);
  let pos = p.start + t;
  var lo = 0u;
  if (p.window > 0u && pos + 1u > p.window) { lo = pos + 1u - p.window; }

  for (var d = tid; d < p.hd; d += WG) { qs[d] = q[(t * p.nH + h) * p.hd + d]; }
  workgroupBarrier();

  let k_row = p.nKv * p.hd;
  var v_row = p.nKv * p.hdV;
  var v_head = kvh * p.hdV;
  if (p.v_from_k == 1u) { v_row = k_row; v_head = kvh * p.hd; }

  var m = NEG_INF;
  var l = 0.0;
  var acc: array<f32, 16>;
  for (var i = 0u; i < DPT; i++) { acc[i] = 0.0; }

  for (var c0 = lo; c0 <= pos; c0 += WG) {
    let j = c0 + tid;
    var s = NEG_INF;
    if (j <= pos) {
      let base = (j % p.capacity) * k_row + kvh * p.hd;
      var dot = 0.0;
      for (var d = 0u; d < p.hd; d++) { dot += qs[d] * kc[base + d]; }
      s = dot * p.scale;
      if (p.softcap > 0.0) { s = p.softcap * tanh(clamp(s / p.softcap, -20.0, 20.0)); }
    }
    let mn = max(m, reduce_max(s, tid));
    var e = 0.0;
    if (j <= pos) { e = exp(s - mn); }
    ps[tid] = e;
    let sum = reduce_sum(e, tid); // its barriers also publish ps
    let alpha = exp(m - mn);
    let n = min(WG, pos + 1u - c0);
    for (var i = 0u; i < DPT; i++) {
      let d = tid + i * WG;
      if (d < p.hdV) {
        var a = acc[i] * alpha;
        for (var jj = 0u; jj < n; jj++) {
          let slot = (c0 + jj) % p.capacity;
          if (p.v_from_k == 1u) {
            a += ps[jj] * kc[slot * v_row + v_head + d];
          } else {
            a += ps[jj] * vc[slot * v_row + v_head + d];
          }
        }
        acc[i] = a;
      }
    }
    l = l * alpha + sum;
    m = mn;
    workgroupBarrier();
  }

  if (p.has_sinks == 1u) {
    let sink = sinks[h];
    let mn = max(m, sink);
    let alpha = exp(m - mn);
    l = l * alpha + exp(sink - mn);
    for (var i = 0u; i < DPT; i++) { acc[i] *= alpha; }
  }
  let inv = 1.0 / l;
  for (var i = 0u; i < DPT; i++) {
    let d = tid + i * WG;
    if (d < p.hdV) { out[(t * p.nH + h) * p.hdV + d] = acc[i] * inv; }
  }
}
