// Mixture-of-experts routing: router logits -> top-k expert ids and their combine weights, one token per
// workgroup, all on the GPU, parallel over the experts (each thread owns experts lid, lid + WG, ...).
//
// Per token:
//   1. score[e]: softmax over experts (mode 0), sigmoid (mode 1), or the raw logit (mode 2: top-k over
//      logits, then softmax over the k chosen: granitemoe, gpt-oss).
//   2. key[e] = score[e] (+ correction bias[e] when has_bias): what selection ranks, never a weight. Plain
//      softmax (no bias, no groups) ranks the logits themselves: the same order, without exp's rounding.
//   3. group limit (n_group > 1, DeepSeek-V3): group score = sum of the two largest keys of the group;
//      the topk_group best groups stay, keys of the others become 0.0 (as transformers' masked_fill).
//   4. top-k by rank: each expert counts the keys above its own (equal keys: those of lower ids, as
//      torch.topk on CPU), and the k of rank < k write themselves to chosen[rank]. No serial rounds.
//   5. weights (thread j < k for slot j) = score of the chosen; softmax over them (mode 2); / their sum
//      (norm); * scale.

struct Params {
  T: u32,          // tokens
  E: u32,          // experts
  K: u32,          // experts per token
  mode: u32,       // 0 softmax, 1 sigmoid, 2 softmax after top-k (scores are the logits)
  norm: u32,       // 1: renormalise the k weights to sum 1
  has_bias: u32,   // 1: bias holds the selection correction
  n_group: u32,    // expert groups (1: no group limit)
  topk_group: u32, // groups kept
  scale: f32,      // routed scaling factor applied to the final weights
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;        // [T, E] f32
@group(0) @binding(2) var<storage, read> bias: array<f32>;          // [E] f32 (ignored when has_bias = 0)
@group(0) @binding(3) var<storage, read_write> ids: array<u32>;     // [T, K] u32
@group(0) @binding(4) var<storage, read_write> weights: array<f32>; // [T, K] f32

const WG: u32 = 256u;
const MAX_E: u32 = 1024u;
const MAX_K: u32 = 64u;
const MAX_GROUPS: u32 = 64u;
const NEG: f32 = -3.0e38;

var<workgroup> score: array<f32, MAX_E>;        // weight source of each expert
var<workgroup> key: array<vec4<f32>, MAX_E / 4u>; // selection key of expert e at [e / 4][e % 4]; NEG past E
var<workgroup> red: array<f32, WG>;
var<workgroup> red16: array<f32, 16>;
var<workgroup> group_key: array<f32, MAX_GROUPS>;
var<workgroup> group_keep: array<u32, MAX_GROUPS>;
var<workgroup> chosen: array<u32, MAX_K>;

// Max (op 0) or sum (op 1) of every thread's v, returned to every thread: 16 columns of 16, then 16.
fn reduce(lid: u32, v: f32, op: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  if (lid < 16u) {
    var a = red[lid];
    for (var i = 1u; i < 16u; i++) {
      let b = red[i * 16u + lid];
      a = select(a + b, max(a, b), op == 0u);
    }
    red16[lid] = a;
  }
  workgroupBarrier();
  var a = red16[0];
  for (var i = 1u; i < 16u; i++) {
    a = select(a + red16[i], max(a, red16[i]), op == 0u);
  }
  workgroupBarrier(); // red and red16 free again
  return a;
}

fn key_at(e: u32) -> f32 {
  return key[e / 4u][e % 4u];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let t = wg.x;
  let E = p.E;
  let E4 = (E + 3u) / 4u;

  // 1. scores
  var m = NEG;
  for (var e = lid; e < E; e += WG) {
    let l = logits[t * E + e];
    score[e] = l;
    m = max(m, l);
  }
  if (p.mode == 0u) {
    let mx = reduce(lid, m, 0u);
    var s = 0.0;
    for (var e = lid; e < E; e += WG) {
      let v = exp(score[e] - mx);
      score[e] = v;
      s += v;
    }
    let total = reduce(lid, s, 1u);
    for (var e = lid; e < E; e += WG) {
      score[e] = score[e] / total;
    }
  } else if (p.mode == 1u) {
    for (var e = lid; e < E; e += WG) {
      score[e] = 1.0 / (1.0 + exp(-score[e]));
    }
  }

  // 2. selection keys
  let by_logit = p.mode == 0u && p.has_bias == 0u && p.n_group == 1u;
  for (var e = lid; e < 4u * E4; e += WG) {
    var v = NEG;
    if (e < E) {
      v = select(score[e] + select(0.0, bias[e], p.has_bias == 1u), logits[t * E + e], by_logit);
    }
    key[e / 4u][e % 4u] = v;
  }
  workgroupBarrier();

  // 3. group limit
  if (p.n_group > 1u) {
    let per = E / p.n_group;
    if (lid < p.n_group) {
      var a = NEG; // largest
      var b = NEG; // second largest
      for (var i = 0u; i < per; i++) {
        let v = key_at(lid * per + i);
        if (v > a) {
          b = a;
          a = v;
        } else if (v > b) {
          b = v;
        }
      }
      group_key[lid] = a + b;
    }
    workgroupBarrier();
    if (lid < p.n_group) {
      let v = group_key[lid];
      var r = 0u;
      for (var g = 0u; g < p.n_group; g++) {
        let o = group_key[g];
        r += select(0u, 1u, o > v || (o == v && g < lid));
      }
      group_keep[lid] = select(0u, 1u, r < p.topk_group);
    }
    workgroupBarrier();
    for (var e = lid; e < E; e += WG) {
      if (group_keep[e / per] == 0u) {
        key[e / 4u][e % 4u] = 0.0;
      }
    }
    workgroupBarrier();
  }

  // 4. top-k by rank
  for (var e = lid; e < E; e += WG) {
    let v = vec4<f32>(key_at(e));
    var r = vec4<u32>(0u);
    for (var f = 0u; f < E4; f++) {
      let o = key[f];
      let idx = vec4<u32>(4u * f) + vec4<u32>(0u, 1u, 2u, 3u);
      r += select(vec4<u32>(0u), vec4<u32>(1u), (o > v) | ((o == v) & (idx < vec4<u32>(e))));
    }
    let rank = r.x + r.y + r.z + r.w;
    if (rank < p.K) {
      chosen[rank] = e;
    }
  }
  workgroupBarrier();

  // 5. weights, one slot per thread
  if (lid < p.K) {
    var mx = NEG;
    var s = 0.0;
    if (p.mode == 2u) {
      for (var j = 0u; j < p.K; j++) {
        mx = max(mx, score[chosen[j]]);
      }
      for (var j = 0u; j < p.K; j++) {
        s += exp(score[chosen[j]] - mx);
      }
    } else {
      for (var j = 0u; j < p.K; j++) {
        s += score[chosen[j]];
      }
    }
    let c = chosen[lid];
    var w = score[c];
    var div = 1.0;
    if (p.mode == 2u) {
      w = exp(w - mx);
      div = s;
    } else if (p.norm == 1u) {
      div = s + 1e-20;
    }
    ids[t * p.K + lid] = c;
    weights[t * p.K + lid] = w / div * p.scale;
  }
}
