/** Round half to even, as WGSL's round(). */
function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** x (K values, K a multiple of 64) in planes as shaders/xPlanes.wgsl lays them out, computed in f32. */
export function encodeXPlanesRef(x: Float32Array): Uint32Array {
  const K = x.length;
  const U = K / 64;
  const out = new Uint32Array(U * 36);
  const f = Math.fround;
  const pack = (v: number[]) => ((v[0]! & 0xff) | ((v[1]! & 0xff) << 8) | ((v[2]! & 0xff) << 16) | ((v[3]! & 0xff) << 24)) >>> 0;
  const scales = new Float32Array(out.buffer, U * 32 * 4, U * 4);
  for (let b = 0; b < K / 32; b++) {
    let m = 0;
    let sum = 0;
    for (let i = 0; i < 32; i += 4) {
      const v = x.subarray(32 * b + i, 32 * b + i + 4);
      m = Math.max(m, Math.abs(v[0]!), Math.abs(v[1]!), Math.abs(v[2]!), Math.abs(v[3]!));
      sum = f(sum + f(f(f(v[0]! + v[1]!) + v[2]!) + v[3]!)); // the shader's order: per vec4, then across
    }
    const inv = m > 0 ? f(127 / m) : 0;
    const u = b >> 1;
    const half = b & 1;
    for (let k = 0; k < 2; k++) {
      for (let j = 0; j < 4; j++) {
        const hi: number[] = [];
        const lo: number[] = [];
        for (let e = 0; e < 4; e++) {
          const t = f(x[32 * b + 16 * k + 4 * j + e]! * inv);
          const h = roundEven(t);
          hi.push(h);
          lo.push(roundEven(f(f(t - h) * 254)));
        }
        out[((2 * half + k) * U + u) * 4 + j] = pack(hi);
        out[((4 + 2 * half + k) * U + u) * 4 + j] = pack(lo);
      }
    }
    scales[u * 4 + half] = f(m / 127);
    scales[u * 4 + 2 + half] = sum;
  }
  return out;
}

/** The values that planes stand for: s * (hi + lo / 254) per block. */
export function decodeXPlanes(planes: Uint32Array): Float32Array {
  const U = planes.length / 36;
  const K = U * 64;
  const scales = new Float32Array(planes.buffer, planes.byteOffset + U * 32 * 4, U * 4);
  const bytes = new Int8Array(planes.buffer, planes.byteOffset, U * 32 * 4);
  const x = new Float32Array(K);
  for (let b = 0; b < K / 32; b++) {
    const u = b >> 1;
    const half = b & 1;
    const s = scales[u * 4 + half]!;
    for (let i = 0; i < 32; i++) {
      const k = i >> 4; // vec4 k of the block's plane
      const j = (i >> 2) & 3;
      const e = i & 3;
      const hi = bytes[(((2 * half + k) * U + u) * 4 + j) * 4 + e]!;
      const lo = bytes[(((4 + 2 * half + k) * U + u) * 4 + j) * 4 + e]!;
      x[32 * b + i] = s * (hi + lo / 254);
    }
  }
  return x;
}
