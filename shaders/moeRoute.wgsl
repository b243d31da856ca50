// Mixture-of-experts routing: router logits -> top-k expert ids and their combine weights, one token per
// workgroup, all on the GPU.
//
// Per token (a workgroup of WG threads, experts strided over the threads, held in workgroup memory):
//   1. score[e]: softmax over experts (mode 0), sigmoid (mode 1), or the raw logit (mode 2: top-k over
//      logits, then softmax over the k chosen: granitemoe, gpt-oss).
//   2. key[e] = score[e] (+ correction bias[e] when has_bias): what selection ranks, never a weight.
//   3. group limit (n_group > 1, DeepSeek-V3): group score = sum of the two largest keys of the group;
//      the topk_group best groups stay, keys of the others become 0.0 (as transformers' masked_fill).
//   4. k rounds of a workgroup argmax over key (ties: the lower expert id, as torch.topk on CPU).
//   5. weights = score of the chosen; softmax over them (mode 2); / their sum (norm); * scale.

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

var<workgroup> score: array<f32, MAX_E>; // weight source of each expert
var<workgroup> key: array<f32, MAX_E>;   // selection key of each expert (-> NEG once chosen)
var<workgroup> red_v: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;
var<workgroup> group_key: array<f32, MAX_GROUPS>;
var<workgroup> group_keep: array<u32, MAX_GROUPS>;
var<workgroup> chosen: array<u32, MAX_K>;

// Tree reduction of red_v: max (op 0) or sum (op 1); the result lands in red_v[0].
fn reduce(lid: u32, op: u32) {
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      if (op == 0u) {
        red_v[lid] = max(red_v[lid], red_v[lid + s]);
      } else {
        red_v[lid] = red_v[lid] + red_v[lid + s];
      }
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let t = wg.x;
  let E = p.E;

  // 1. scores
  var m = NEG;
  for (var e = lid; e < E; e += WG) {
    let l = logits[t * E + e];
    score[e] = l;
    m = max(m, l);
  }
  if (p.mode == 0u) {
    red_v[lid] = m;
    reduce(lid, 0u);
    let mx = red_v[0];
    workgroupBarrier();
    var s = 0.0;
    for (var e = lid; e < E; e += WG) {
      let v = exp(score[e] - mx);
      score[e] = v;
      s += v;
    }
    red_v[lid] = s;
    reduce(lid, 1u);
    let total = red_v[0];
    for (var e = lid; e < E; e += WG) {
      score[e] = score[e] / total;
    }
  } else if (p.mode == 1u) {
    for (var e = lid; e < E; e += WG) {
      score[e] = 1.0 / (1.0 + exp(-score[e]));
    }
  }

  // 2. selection keys
  for (var e = lid; e < E; e += WG) {
    key[e] = score[e] + select(0.0, bias[e], p.has_bias == 1u);
  }
  workgroupBarrier();

  // 3. group limit
  if (p.n_group > 1u) {
    let per = E / p.n_group;
    if (lid < p.n_group) {
      var a = NEG; // largest
      var b = NEG; // second largest
      for (var i = 0u; i < per; i++) {
        let v = key[lid * per + i];
        if (v > a) {
          b = a;
          a = v;
        } else if (v > b) {
          b = v;
        }
      }
      group_key[lid] = a + b;
      group_keep[lid] = 0u;
    }
    workgroupBarrier();
    if (lid == 0u) {
      for (var r = 0u; r < p.topk_group; r++) {
        var best = 0u;
        var bv = NEG;
        var found = false;
        for (var g = 0u; g < p.n_group; g++) {
          if (group_keep[g] == 0u && (!found || group_key[g] > bv)) {
            best = g;
            bv = group_key[g];
            found = true;
          }
        }
        group_keep[best] = 1u;
      }
    }
    workgroupBarrier();
    for (var e = lid; e < E; e += WG) {
      if (group_keep[e / per] == 0u) {
        key[e] = 0.0;
      }
    }
    workgroupBarrier();
  }

  // 4. top-k by repeated argmax
  for (var j = 0u; j < p.K; j++) {
    var bv = NEG;
    var bi = 0xffffffffu;
    for (var e = lid; e < E; e += WG) {
      let v = key[e];
      if (bi == 0xffffffffu || v > bv) {
        bv = v;
        bi = e;
      }
    }
    red_v[lid] = bv;
    red_i[lid] = bi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (lid < s) {
        let ov = red_v[lid + s];
        let oi = red_i[lid + s];
        let mine = red_i[lid];
        if (oi != 0xffffffffu && (mine == 0xffffffffu || ov > red_v[lid] || (ov == red_v[lid] && oi < mine))) {
          red_v[lid] = ov;
          red_i[lid] = oi;
        }
      }
      workgroupBarrier();
    }
    if (lid == 0u) {
      let c = red_i[0];
      chosen[j] = c;
      key[c] = NEG;
    }
    workgroupBarrier();
  }

  // 5. weights
  if (lid == 0u) {
    var mx = NEG;
    for (var j = 0u; j < p.K; j++) {
      mx = max(mx, score[chosen[j]]);
    }
    var v: array<f32, MAX_K>;
    var s = 0.0;
    for (var j = 0u; j < p.K; j++) {
      var w = score[chosen[j]];
      if (p.mode == 2u) {
        w = exp(w - mx);
      }
      v[j] = w;
      s += w;
    }
    var div = 1.0;
    if (p.mode == 2u) {
      div = s;
    } else if (p.norm == 1u) {
      div = s + 1e-20;
    }
    for (var j = 0u; j < p.K; j++) {
      ids[t * p.K + j] = chosen[j];
      weights[t * p.K + j] = v[j] / div * p.scale;
    }
  }
}
