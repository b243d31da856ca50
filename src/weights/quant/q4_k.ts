import { readF16, roundF16, writeF16 } from './half.js';

/**
 * GGUF Q4_K: super-blocks of 256 values, 144 bytes: { f16 d; f16 dmin; uint8 scales[12]; uint8 qs[128] }.
 * Eight sub-blocks of 32 have a 6-bit scale and a 6-bit min packed in `scales` (get_scale_min_k4);
 * value = d * sc * q - dmin * m. Each 64 values share 32 qs bytes: low nibbles the first 32, high the next.
 */
export const Q4_K = { blockElems: 256, blockBytes: 144 } as const;

/** Scale and min of sub-block j (0..7) from the 12 packed bytes at `at` (ggml's get_scale_min_k4). */
export function scaleMinK4(bytes: Uint8Array, at: number, j: number): [number, number] {
  const q = (i: number) => bytes[at + i]!;
  if (j < 4) return [q(j) & 63, q(j + 4) & 63];
  return [(q(j + 4) & 0xf) | ((q(j - 4) >> 6) << 4), (q(j + 4) >> 4) | ((q(j) >> 6) << 4)];
}

/**
 * A simple valid Q4_K quantizer: per sub-block scale = (max - min) / 15 with min <= 0, the 6-bit scales
 * and mins relative to the largest of each, then round-to-nearest of the values.
 */
export function quantizeQ4_K(x: Float32Array): Uint8Array {
  const nb = x.length / 256;
  const out = new Uint8Array(nb * 144);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let b = 0; b < nb; b++) {
    const xb = x.subarray(b * 256, (b + 1) * 256);
    const o = b * 144;
    for (let j = 0; j < 8; j++) {
      let lo = 0;
      let hi = -Infinity;
      for (let i = 0; i < 32; i++) {
        lo = Math.min(lo, xb[j * 32 + i]!);
        hi = Math.max(hi, xb[j * 32 + i]!);
      }
      scales[j] = Math.max(0, hi - lo) / 15;
      mins[j] = -lo;
    }
    const d = roundF16(Math.max(...scales) / 63);
    const dmin = roundF16(Math.max(...mins) / 63);
    writeF16(out, o, d);
    writeF16(out, o + 2, dmin);
    const ls = Array.from(scales, (s) => (d ? Math.min(63, Math.round(s / d)) : 0));
    const lm = Array.from(mins, (m) => (dmin ? Math.min(63, Math.round(m / dmin)) : 0));
    for (let j = 0; j < 8; j++) {
      if (j < 4) {
        out[o + 4 + j] = ls[j]!;
        out[o + 4 + j + 4] = lm[j]!;
      } else {
        out[o + 4 + j + 4] = (ls[j]! & 0xf) | ((lm[j]! & 0xf) << 4);
        out[o + 4 + j - 4] |= (ls[j]! >> 4) << 6;
        out[o + 4 + j] |= (lm[j]! >> 4) << 6;
      }
    }
    const L = new Uint8Array(256);
    for (let j = 0; j < 8; j++) {
      const dl = d * ls[j]!;
      const ml = dmin * lm[j]!;
      for (let i = 0; i < 32; i++) {
        L[j * 32 + i] = dl ? Math.max(0, Math.min(15, Math.round((xb[j * 32 + i]! + ml) / dl))) : 0;
      }
    }
    for (let j = 0; j < 256; j += 64) {
      for (let l = 0; l < 32; l++) out[o + 16 + j / 2 + l] = L[j + l]! | (L[j + l + 32]! << 4);
    }
  }
  return out;
}

/** ggml's dequantize_row_q4_K. */
export function dequantizeQ4_K(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let b = 0; b < count / 256; b++) {
    const o = b * 144;
    const d = readF16(bytes, o);
    const dmin = readF16(bytes, o + 2);
    let y = b * 256;
    let q = o + 16;
    for (let is = 0; is < 8; is += 2) {
      const [sc1, m1] = scaleMinK4(bytes, o + 4, is);
      const [sc2, m2] = scaleMinK4(bytes, o + 4, is + 1);
      const d1 = d * sc1;
      const d2 = d * sc2;
      const mm1 = dmin * m1;
      const mm2 = dmin * m2;
      for (let l = 0; l < 32; l++) out[y + l] = d1 * (bytes[q + l]! & 0xf) - mm1;
      for (let l = 0; l < 32; l++) out[y + 32 + l] = d2 * (bytes[q + l]! >> 4) - mm2;
      y += 64;
      q += 32;
    }
  }
  return out;
}
