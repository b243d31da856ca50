import type { MoeActivation } from '../moeTypes.js';
import { activate, type MoeExpertsRefWeights } from './moe.js';

/** Values of a row as int8 per block of 32 (s = max|v| / 127, q = round(v / s)), dequantized: s * q. */
export function int8Blocks(v: Float64Array | Float32Array): Float64Array {
  const out = new Float64Array(v.length);
  for (let b = 0; b < v.length; b += 32) {
    let m = 0;
    for (let i = b; i < Math.min(b + 32, v.length); i++) m = Math.max(m, Math.abs(v[i]!));
    const s = m / 127;
    for (let i = b; i < Math.min(b + 32, v.length); i++) out[i] = m > 0 ? Math.round(v[i]! / s) * s : 0;
  }
  return out;
}

/**
 * What the MoE decode GEMVs compute (src/kernels/moeDecode.ts), in f64: moeExpertsRef with x quantized to
 * int8 per block of 32 before gate|up and (q8Act) act quantized the same way before down. w holds the
 * dequantized expert weights. out[T, H].
 */
export function moeDecodeRef(
  x: Float32Array,
  T: number,
  H: number,
  I: number,
  ids: Uint32Array,
  weights: Float32Array,
  k: number,
  w: MoeExpertsRefWeights,
  act: MoeActivation,
  clamp: { limit: number; alpha: number } | undefined,
  q8Act: boolean,
): Float32Array {
  const out = new Float32Array(T * H);
  const a = new Float64Array(I);
  for (let t = 0; t < T; t++) {
    const xq = int8Blocks(x.subarray(t * H, (t + 1) * H));
    for (let j = 0; j < k; j++) {
      const e = ids[t * k + j]!;
      const rw = weights[t * k + j]!;
      for (let i = 0; i < I; i++) {
        let g = w.gateUpBias ? w.gateUpBias[e * 2 * I + i]! : 0;
        let u = w.gateUpBias ? w.gateUpBias[e * 2 * I + I + i]! : 0;
        const gRow = (e * 2 * I + i) * H;
        const uRow = (e * 2 * I + I + i) * H;
        for (let h = 0; h < H; h++) {
          g += w.gateUp[gRow + h]! * xq[h]!;
          u += w.gateUp[uRow + h]! * xq[h]!;
        }
        a[i] = activate(g, u, act, clamp);
      }
      const aq = q8Act ? int8Blocks(a) : a;
      for (let h = 0; h < H; h++) {
        let s = w.downBias ? w.downBias[e * H + h]! : 0;
        for (let i = 0; i < I; i++) s += w.down[(e * H + h) * I + i]! * aq[i]!;
        out[t * H + h] = out[t * H + h]! + rw * s;
      }
    }
  }
  return out;
}
