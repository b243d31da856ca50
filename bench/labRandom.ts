// Random inputs of the kernel labs (bench/kernelLab*.ts, moeDecodeLab.ts, subgroupMatrixLab.ts): weight blocks
// with small valid scales and MoE routings, deterministic per seed (xorshift).
import { byteSizeOf, dtypeLayout, type DType } from '../src/gpu/tensor.js';
import { f32ToF16 } from '../src/weights/quant/index.js';

/** A xorshift32 stream of u32 words, seeded. */
function xorshift(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** `count` values of a block `dtype` (q8_0, q4_0, q4_k, q6_k): random quants, small valid f16 scales. */
export function randomBlocks(dtype: DType, count: number, seed: number): Uint8Array {
  if (dtype === 'f16' || dtype === 'bf16' || dtype === 'f32') throw new Error('kernel lab: block formats only');
  const bytes = new Uint8Array(byteSizeOf(dtype, count));
  const words = new Uint32Array(bytes.buffer, 0, bytes.byteLength >> 2);
  const next = xorshift(seed);
  for (let i = 0; i < words.length; i++) words[i] = next();
  const { blockBytes } = dtypeLayout[dtype];
  const half = (at: number, v: number) => {
    const h = f32ToF16(v);
    bytes[at] = h & 0xff;
    bytes[at + 1] = h >>> 8;
  };
  const scale = (b: number) => 0.002 + (0.002 * ((b * 7919) % 13)) / 13;
  for (let b = 0, at = 0; at < bytes.length; b++, at += blockBytes) {
    if (dtype === 'q8_0' || dtype === 'q4_0') half(at, scale(b));
    else if (dtype === 'q4_k') {
      half(at, scale(b));
      half(at + 2, scale(b + 1));
    } else if (dtype === 'q6_k') half(at + 208, scale(b));
  }
  return bytes;
}

/** k distinct experts of E per token, uniformly at random, with random weights summing to 1. */
export function randomRouting(T: number, E: number, k: number, seed: number): { ids: Uint32Array; weights: Float32Array } {
  const word = xorshift(seed);
  const next = () => word() / 4294967296;
  const ids = new Uint32Array(T * k);
  const weights = new Float32Array(T * k);
  for (let t = 0; t < T; t++) {
    const chosen = new Set<number>();
    while (chosen.size < k) chosen.add(Math.floor(next() * E));
    const w = Array.from(chosen, () => 0.1 + next());
    const sum = w.reduce((a, b) => a + b, 0);
    [...chosen].forEach((e, j) => {
      ids[t * k + j] = e;
      weights[t * k + j] = w[j]! / sum;
    });
  }
  return { ids, weights };
}
