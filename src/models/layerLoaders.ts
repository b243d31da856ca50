import type { Tensor } from '../gpu/tensor.js';
import type { MatrixPart } from '../weights/loadTensors.js';
import type { LoadDType } from './types.js';

/** The loaders of buildModel: a matrix in the requested dtype (parts fused by rows), a vector in f32. */
export interface Loaders {
  matrix(parts: MatrixPart[], label: string): Promise<Tensor>;
  f32(part: MatrixPart, label: string): Promise<Tensor>;
  track<T extends Tensor>(t: T): T;
  /** The requested weight dtype (for tensors rearranged at load, as gpt-oss's fused experts). */
  readonly dtype?: LoadDType;
}
