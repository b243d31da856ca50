import type { Tensor } from '../gpu/tensor.js';

/** One layer's keys and values: position p lives in slot p % capacity. */
export interface LayerKv {
  readonly k: Tensor; // [capacity, nKv, headDim] f32
  readonly v: Tensor; // [capacity, nKv, headDimV] f32
  readonly capacity: number;
  /** Sliding layers: a query at p sees keys p - window + 1 .. p. */
  readonly window?: number;
}
