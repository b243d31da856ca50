import type { Tensor } from '../gpu/tensor.js';
import type { Activation } from './elementwise.js';

/** Stacked expert weights. gateUp rows [0, I) are the gate, [I, 2I) the up projection. */
export interface MoeExpertWeights {
  readonly gateUp: Tensor; // [E, 2I, H] any weight dtype
  readonly down: Tensor; // [E, H, I] any weight dtype
  readonly gateUpBias?: Tensor; // [E, 2I] f32
  readonly downBias?: Tensor; // [E, H] f32
}

/** The activations the expert kernels apply: the gated ones of Activation that MoE families use. */
export type MoeActivation = Extract<Activation, 'silu' | 'gelu_tanh'>;
