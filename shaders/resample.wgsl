// One pass of a separable antialiased resize of 8-bit RGB images in fixed point, bit-exact with
// src/image/resize.ts (Pillow's / PyTorch's uint8 resampling): out = clamp((2^(p-1) + Σ w_j · in_j) >> p, 0, 255)
// per channel, with integer weights w (|Σ w · 255| < 2^31 for p <= 22). Pixels are packed one per u32:
// r | g << 8 | b << 16 (| a << 24 on the first pass's RGBA input, composited over white as Pillow's
// alpha_composite does when ALPHA). HORIZONTAL: out [rows, outN] from in [rows, inN] along x; else along y:
// out [outN, cols] from in [inN, cols].

struct Params {
  out_n: u32,     // output pixels along the resized axis
  other: u32,     // pixels along the other axis (rows for HORIZONTAL, columns for vertical)
  in_n: u32,      // input pixels along the resized axis
  k: u32,         // weights per output pixel (stride of coef rows: 2 + k)
  bits: u32,      // fractional bits of the weights
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;   // [rows, in_n] or [in_n, cols] packed pixels
@group(0) @binding(2) var<storage, read> coef: array<i32>;  // [out_n, 2 + k]: start, count, k weights
@group(0) @binding(3) var<storage, read_write> dst: array<u32>; // [rows, out_n] or [out_n, cols] packed RGB

fn rgb(v: u32) -> vec3<i32> {
  let c = vec3<i32>(i32(v & 255u), i32((v >> 8u) & 255u), i32((v >> 16u) & 255u));
#if ALPHA
  let a = i32(v >> 24u);
  if (a == 255) {
    return c;
  }
  if (a == 0) {
    return vec3<i32>(255);
  }
  // Pillow: coef1 = a * 128, coef2 = (255 - a) * 128 over a white background, 7-bit precision.
  let t = c * (a * 128) + vec3<i32>(255 * (255 - a) * 128) + vec3<i32>(128 << 7u);
  return (((t >> vec3<u32>(8u)) + t) >> vec3<u32>(8u)) >> vec3<u32>(7u);
#else
  return c;
#endif
}

fn clip8(s: i32) -> u32 {
  return u32(clamp(s >> p.bits, 0, 255));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o = gid.x;     // output index along the resized axis
  let line = gid.y;  // index along the other axis
  if (o >= p.out_n || line >= p.other) {
    return;
  }
  let row = o * (2u + p.k);
  let start = u32(coef[row]);
  let count = u32(coef[row + 1u]);
  var s = vec3<i32>(1 << (p.bits - 1u));
  for (var j = 0u; j < count; j++) {
#if HORIZONTAL
    let v = src[line * p.in_n + start + j];
#else
    let v = src[(start + j) * p.other + line];
#endif
    s += rgb(v) * coef[row + 2u + j];
  }
  let packed = clip8(s.x) | (clip8(s.y) << 8u) | (clip8(s.z) << 16u);
#if HORIZONTAL
  dst[line * p.out_n + o] = packed;
#else
  dst[o * p.other + line] = packed;
#endif
}
