// The merge of a decode attention's chunks (src/kernels/decodeParts.ts) by the kernel that takes them as its
// input: matmulGemvInt8's X_MERGE, headMatmulRows' MERGE. The includer defines chunk_ml(pc) -> vec2<f32> (max and
// sum of chunk pc's scores) and chunk_acc(pc, i) -> vec4<f32> (vec4 i of its unnormalised sum of p · v).

// vec4 i of Σ_c e^(m_c - M) acc_c / Σ_c e^(m_c - M) l_c over the n chunks pc0 .. pc0 + n - 1, eight chunks' loads
// in flight at a time.
fn merge_chunks(pc0: u32, n: u32, i: u32) -> vec4<f32> {
  var mx = -3.0e38;
  var den = 0.0;
  var o = vec4<f32>(0.0);
  for (var c0 = 0u; c0 < n; c0 += 8u) {
    var ml: array<vec2<f32>, 8>;
    var v: array<vec4<f32>, 8>;
    for (var e = 0u; e < 8u; e++) {
      let pc = pc0 + min(c0 + e, n - 1u);
      ml[e] = chunk_ml(pc);
      v[e] = chunk_acc(pc, i);
      if (c0 + e >= n) {
        ml[e] = vec2<f32>(-3.0e38, 0.0);
      }
    }
    var m = mx;
    for (var e = 0u; e < 8u; e++) { m = max(m, ml[e].x); }
    let f = exp(mx - m);
    o *= f;
    den *= f;
    for (var e = 0u; e < 8u; e++) {
      let w = exp(ml[e].x - m);
      o += w * v[e];
      den += w * ml[e].y;
    }
    mx = m;
  }
  return o / den;
}
