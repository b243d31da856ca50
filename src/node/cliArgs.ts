import { InvalidArgumentError } from '../errors.js';
import type { LoadDType } from '../models/types.js';

const DTYPES: readonly LoadDType[] = ['auto', 'f32', 'f16', 'q8_0', 'q4_0'];

/** --dtype of `weblm run` and `weblm bench`: a load dtype. */
export function dtypeArg(s: string | undefined): LoadDType {
  if (!DTYPES.includes(s as LoadDType)) throw new InvalidArgumentError(`--dtype ${s} is not one of ${DTYPES.join(', ')}`);
  return s as LoadDType;
}

/** An integer flag of at least `min`. */
export function intArg(s: string, what: string, min: 0 | 1): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${what}: ${s} is not a ${min ? 'positive' : 'non-negative'} integer`);
  return n;
}
