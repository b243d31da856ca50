import { readF16, writeF16 } from './half.js';

/** GGUF Q8_0: blocks of 32 values, 34 bytes: { f16 d; int8 qs[32] }, value = qs[i] * d. */
export const Q8_0 = { blockElems: 32, blockBytes: 34 } as const;

/** ggml's quantize_row_q8_0_ref: d = amax / 127, qs = round(x / d). */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 34);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b * 32 + i]!));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    writeF16(out, b * 34, d);
    for (let i = 0; i < 32; i++) out[b * 34 + 2 + i] = roundf(Math.fround(x[b * 32 + i]! * id)) & 0xff;
  }
  return out;
}

export function dequantizeQ8_0(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let b = 0; b < count / 32; b++) {
    const d = readF16(bytes, b * 34);
    for (let i = 0; i < 32; i++) out[b * 32 + i] = ((bytes[b * 34 + 2 + i]! << 24) >> 24) * d;
  }
  return out;
}

/** C's roundf: halves away from zero. */
function roundf(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}
