/**
 * A tensor on the GPU: a buffer (or a range of one), a shape and a dtype. Quantized dtypes use the GGUF
 * block layouts byte for byte (src/weights/quant/), so GGUF files upload as they are stored.
 */
export type FloatDType = 'f32' | 'f16' | 'bf16';
export type QuantDType = 'q8_0' | 'q4_0' | 'q4_k' | 'q6_k';
export type DType = FloatDType | QuantDType | 'i32' | 'u32';

/** Elements per block and bytes per block of each dtype (a plain dtype is a block of one element). */
export const dtypeLayout: Record<DType, { blockElems: number; blockBytes: number }> = {
  f32: { blockElems: 1, blockBytes: 4 },
  f16: { blockElems: 1, blockBytes: 2 },
  bf16: { blockElems: 1, blockBytes: 2 },
  i32: { blockElems: 1, blockBytes: 4 },
  u32: { blockElems: 1, blockBytes: 4 },
  q8_0: { blockElems: 32, blockBytes: 34 },
  q4_0: { blockElems: 32, blockBytes: 18 },
  q4_k: { blockElems: 256, blockBytes: 144 },
  q6_k: { blockElems: 256, blockBytes: 210 },
};

export function isQuantized(dtype: DType): dtype is QuantDType {
  return dtypeLayout[dtype].blockElems > 1;
}

/** Bytes taken by `count` elements of `dtype`; for block formats the count must be whole blocks. */
export function byteSizeOf(dtype: DType, count: number): number {
  const { blockElems, blockBytes } = dtypeLayout[dtype];
  if (count % blockElems !== 0) throw new Error(`${count} elements are not whole ${dtype} blocks of ${blockElems}`);
  return (count / blockElems) * blockBytes;
}

export interface Tensor {
  readonly buffer: GPUBuffer;
  /** Byte offset of element 0 inside `buffer`. */
  readonly offset: number;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly label?: string;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function tensorBytes(t: Pick<Tensor, 'shape' | 'dtype'>): number {
  return byteSizeOf(t.dtype, numel(t.shape));
}
