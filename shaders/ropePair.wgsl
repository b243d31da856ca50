// The pairs of RoPE, as shaders/ropeKv.wgsl and the decode attention's FUSED_ROPE turn them (HF rotate_half for
// neox, GPT-J's adjacent pairs with INTERLEAVED). Included by a shader whose Params have `half` (rotaryDim / 2).

// The dims (a, b) of pair i of a head whose first rotated dim is `base`.
fn rope_pair(base: u32, i: u32) -> vec2<u32> {
#if INTERLEAVED
  return vec2<u32>(base + 2u * i, base + 2u * i + 1u);
#else
  return vec2<u32>(base + i, base + i + p.half);
#endif
}

// Rotated dim r (0 .. 2 half - 1) is a side of pair i: its first dim (a) or its second (b).
struct RopeSide {
  i: u32,
  first: bool,
}

fn rope_side(r: u32) -> RopeSide {
#if INTERLEAVED
  return RopeSide(r / 2u, r % 2u == 0u);
#else
  return RopeSide(r % p.half, r < p.half);
#endif
}

// One side of the pair (a, b) turned by sc = (sin, cos) (scaled): a cos - b sin for the first, b cos + a sin.
fn rope_turn(a: f32, b: f32, sc: vec2<f32>, first: bool) -> f32 {
  return select(b * sc.y + a * sc.x, a * sc.y - b * sc.x, first);
}
