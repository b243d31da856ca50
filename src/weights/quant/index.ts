import { InvalidArgumentError } from '../../errors.js';
import { dtypeLayout, type DType } from '../../gpu/tensor.js';
import { decodeBf16, decodeF16, encodeBf16, encodeF16 } from './half.js';
import { dequantizeQ4_0, quantizeQ4_0 } from './q4_0.js';
import { dequantizeQ4_K, quantizeQ4_K } from './q4_k.js';
import { dequantizeQ6_K, quantizeQ6_K } from './q6_k.js';
import { dequantizeQ8_0, quantizeQ8_0 } from './q8_0.js';

export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, roundF16 } from './half.js';
export { scaleMinK4 } from './q4_k.js';

/** The dtypes values can be encoded into. */
export type EncodeDType = 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_k' | 'q6_k';

function checkCount(dtype: DType, count: number): void {
  const { blockElems } = dtypeLayout[dtype];
  if (!Number.isInteger(count) || count < 0 || count % blockElems !== 0) {
    throw new InvalidArgumentError(`${count} values are not whole ${dtype} blocks of ${blockElems}`);
  }
}

/** Bytes of `values` stored as `dtype` (GGUF block layouts; round-to-nearest like ggml's reference). */
export function quantize(values: Float32Array, dtype: EncodeDType): Uint8Array {
  checkCount(dtype, values.length);
  switch (dtype) {
    case 'f16':
      return encodeF16(values);
    case 'bf16':
      return encodeBf16(values);
    case 'q8_0':
      return quantizeQ8_0(values);
    case 'q4_0':
      return quantizeQ4_0(values);
    case 'q4_k':
      return quantizeQ4_K(values);
    case 'q6_k':
      return quantizeQ6_K(values);
    default:
      throw new InvalidArgumentError(`cannot quantize to ${dtype as string}`);
  }
}

/** f32 values of `count` elements stored as `dtype` in `bytes`. */
export function dequantize(bytes: Uint8Array, dtype: DType, count: number): Float32Array {
  checkCount(dtype, count);
  const { blockElems, blockBytes } = dtypeLayout[dtype];
  const need = (count / blockElems) * blockBytes;
  if (bytes.byteLength < need) {
    throw new InvalidArgumentError(`${count} ${dtype} values need ${need} bytes, got ${bytes.byteLength}`);
  }
  switch (dtype) {
    case 'f32':
      return new Float32Array(bytes.slice(0, need).buffer);
    case 'f16':
      return decodeF16(bytes, count);
    case 'bf16':
      return decodeBf16(bytes, count);
    case 'q8_0':
      return dequantizeQ8_0(bytes, count);
    case 'q4_0':
      return dequantizeQ4_0(bytes, count);
    case 'q4_k':
      return dequantizeQ4_K(bytes, count);
    case 'q6_k':
      return dequantizeQ6_K(bytes, count);
    default:
      throw new InvalidArgumentError(`cannot dequantize ${dtype}`);
  }
}
