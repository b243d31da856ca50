import { readF16, roundF16, writeF16 } from './half.js';

/**
 * GGUF Q6_K: super-blocks of 256 values, 210 bytes: { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; f16 d }.
 * 6-bit quants (low 4 bits in ql, high 2 in qh), 16 sub-blocks of 16 with int8 scales;
 * value = d * scale * (q - 32). Each half (128 values) uses 64 ql bytes and 32 qh bytes.
 */
export const Q6_K = { blockElems: 256, blockBytes: 210 } as const;

/** ggml-style: sub-block scale = (value of largest magnitude) / -32, 8-bit scales relative to the largest. */
export function quantizeQ6_K(x: Float32Array): Uint8Array {
  const nb = x.length / 256;
  const out = new Uint8Array(nb * 210);
  const sub = new Float32Array(16);
  for (let b = 0; b < nb; b++) {
    const xb = x.subarray(b * 256, (b + 1) * 256);
    const o = b * 210;
    let maxScale = 0;
    for (let j = 0; j < 16; j++) {
      let amax = 0;
      let max = 0;
      for (let i = 0; i < 16; i++) {
        const v = xb[j * 16 + i]!;
        if (Math.abs(v) > amax) {
          amax = Math.abs(v);
          max = v;
        }
      }
      sub[j] = max / -32;
      if (Math.abs(sub[j]!) > Math.abs(maxScale)) maxScale = sub[j]!;
    }
    const iscale = maxScale ? -128 / maxScale : 0;
    const d = roundF16(iscale ? 1 / iscale : 0);
    writeF16(out, o + 208, d);
    const L = new Uint8Array(256);
    for (let j = 0; j < 16; j++) {
      const s = Math.max(-128, Math.min(127, Math.round(iscale * sub[j]!)));
      out[o + 192 + j] = s & 0xff;
      const dl = d * s;
      for (let i = 0; i < 16; i++) {
        const l = dl ? Math.max(-32, Math.min(31, Math.round(xb[j * 16 + i]! / dl))) : 0;
        L[j * 16 + i] = l + 32;
      }
    }
    for (let n = 0; n < 2; n++) {
      const ql = o + 64 * n;
      const qh = o + 128 + 32 * n;
      for (let l = 0; l < 32; l++) {
        const [q1, q2, q3, q4] = [0, 32, 64, 96].map((k) => L[128 * n + l + k]!) as [number, number, number, number];
        out[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        out[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        out[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
  return out;
}

/** ggml's dequantize_row_q6_K. */
export function dequantizeQ6_K(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let b = 0; b < count / 256; b++) {
    const o = b * 210;
    const d = readF16(bytes, o + 208);
    for (let n = 0; n < 2; n++) {
      const ql = o + 64 * n;
      const qh = o + 128 + 32 * n;
      const sc = o + 192 + 8 * n;
      const y = b * 256 + 128 * n;
      const s = (i: number) => (bytes[sc + i]! << 24) >> 24;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = bytes[qh + l]!;
        const q1 = ((bytes[ql + l]! & 0xf) | ((h & 3) << 4)) - 32;
        const q2 = ((bytes[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((bytes[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((bytes[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
        out[y + l] = d * s(is) * q1;
        out[y + l + 32] = d * s(is + 2) * q2;
        out[y + l + 64] = d * s(is + 4) * q3;
        out[y + l + 96] = d * s(is + 6) * q4;
      }
    }
  }
  return out;
}
