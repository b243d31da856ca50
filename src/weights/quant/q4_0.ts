import { readF16, writeF16 } from './half.js';

/**
 * GGUF Q4_0: blocks of 32 values, 18 bytes: { f16 d; uint8 qs[16] }. Low nibbles hold elements 0..15,
 * high nibbles 16..31; value = (q - 8) * d.
 */
export const Q4_0 = { blockElems: 32, blockBytes: 18 } as const;

/** ggml's quantize_row_q4_0_ref: d = max / -8 (max the value of largest magnitude), q = min(15, x/d + 8.5). */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 18);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    let max = 0;
    for (let i = 0; i < 32; i++) {
      const v = x[b * 32 + i]!;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = max / -8;
    const id = d ? 1 / d : 0;
    writeF16(out, b * 18, d);
    const q = (v: number) => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
    for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = q(x[b * 32 + j]!) | (q(x[b * 32 + 16 + j]!) << 4);
  }
  return out;
}

export function dequantizeQ4_0(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let b = 0; b < count / 32; b++) {
    const d = readF16(bytes, b * 18);
    for (let j = 0; j < 16; j++) {
      const q = bytes[b * 18 + 2 + j]!;
      out[b * 32 + j] = ((q & 0xf) - 8) * d;
      out[b * 32 + 16 + j] = ((q >> 4) - 8) * d;
    }
  }
  return out;
}
