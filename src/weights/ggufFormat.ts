import type { DType } from '../gpu/tensor.js';

/** The GGUF container format (ggml/docs/gguf.md; gguf-py/gguf/constants.py). */
export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value types. */
export enum GGUFValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** A metadata value as read: numbers (u64/i64 as number when exact, else bigint), strings, booleans, arrays. */
export type GGUFValue = number | bigint | string | boolean | GGUFValue[];

/** A typed metadata value for the writer (the type decides the encoding). */
export interface GGUFTypedValue {
  type: GGUFValueType;
  value: GGUFValue;
  /** Element type of an ARRAY. */
  itemType?: GGUFValueType;
}

/** ggml tensor types (ggml.h `enum ggml_type`) that weblm reads, and the names of the others for messages. */
export const GGML_TYPE_TO_DTYPE: Record<number, DType> = {
  0: 'f32',
  1: 'f16',
  8: 'q8_0',
  2: 'q4_0',
  12: 'q4_k',
  14: 'q6_k',
  30: 'bf16',
  26: 'i32',
};

export const DTYPE_TO_GGML_TYPE: Partial<Record<DType, number>> = Object.fromEntries(Object.entries(GGML_TYPE_TO_DTYPE).map(([k, v]) => [v, Number(k)]));

export const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  6: 'Q5_0',
  7: 'Q5_1',
  8: 'Q8_0',
  9: 'Q8_1',
  10: 'Q2_K',
  11: 'Q3_K',
  12: 'Q4_K',
  13: 'Q5_K',
  14: 'Q6_K',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  24: 'I8',
  25: 'I16',
  26: 'I32',
  27: 'I64',
  28: 'F64',
  29: 'IQ1_M',
  30: 'BF16',
  34: 'TQ1_0',
  35: 'TQ2_0',
  39: 'MXFP4',
};

/** general.file_type (llama_ftype) of a whole-file type, as llama.cpp's converter writes it. */
export const FILE_TYPE: Partial<Record<DType, number>> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, bf16: 32 };

/** tokenizer.ggml.token_type values (llama_token_type). */
export enum GGUFTokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}
