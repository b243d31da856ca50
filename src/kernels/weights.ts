import { InvalidArgumentError } from '../errors.js';
import type { DType } from '../gpu/tensor.js';

/** The shaders/weights.wgsl define of each weight dtype it reads. */
export const weightDefine: Partial<Record<DType, string>> = {
  f32: 'W_F32',
  f16: 'W_F16',
  bf16: 'W_BF16',
  q8_0: 'W_Q8_0',
  q4_0: 'W_Q4_0',
  q4_k: 'W_Q4_K',
  q6_k: 'W_Q6_K',
};

/** The define of `dtype`; throws, naming the kernel, for a dtype weights.wgsl cannot read. */
export function weightDefineOf(what: string, dtype: DType): string {
  const d = weightDefine[dtype];
  if (!d) throw new InvalidArgumentError(`${what}: weight dtype ${dtype} is not supported`);
  return d;
}
