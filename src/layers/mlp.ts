import type { GpuContext } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { glu, type Activation } from '../kernels/elementwise.js';
import { matmul, matmulFused, matmulSiluGlu } from '../kernels/matmul.js';
import type { FusedResidual } from './attention.js';

export interface MlpWeights {
  readonly gateUp: Tensor; // [2I, H]: gate rows then up rows
  readonly gateUpBias?: Tensor; // [2I] f32
  readonly down: Tensor; // [H, I]
  readonly downBias?: Tensor; // [H] f32
}

export class MlpScratch {
  readonly gateUp: Tensor; // [C, 2I]
  readonly act: Tensor; // [C, I]
  constructor(
    ctx: GpuContext,
    intermediate: number,
    readonly maxChunk: number,
  ) {
    this.gateUp = ctx.createTensor([maxChunk, 2 * intermediate], 'f32', 'mlp.gateUp');
    this.act = ctx.createTensor([maxChunk, intermediate], 'f32', 'mlp.act');
  }
}

/**
 * Gated MLP: out = down(act(gate(x)) * up(x)), with gate and up in one matmul. x [T, H] → out [T, H];
 * xPlanes: x in planes for the decode GEMV (src/kernels/xPlanes.ts).
 */
export function gatedMlp(ctx: GpuContext, w: MlpWeights, act: Activation, s: MlpScratch, x: Tensor, out: Tensor, xPlanes?: Tensor): void {
  const T = x.shape[0]!;
  const I = w.down.shape[1]!;
  const gu = ctx.view(s.gateUp, [T, 2 * I]);
  const a = ctx.view(s.act, [T, I]);
  matmul(ctx, x, w.gateUp, gu, w.gateUpBias, xPlanes);
  // Decode with Q4_0/Q8_0 weights: the GLU runs inside the down projection's GEMV.
  if (T === 1 && act === 'silu' && matmulSiluGlu(ctx, gu, w.down, out, w.downBias)) return;
  glu(ctx, gu, a, act);
  matmul(ctx, a, w.down, out, w.downBias);
}

/** The gated MLP of one decode token on its residual stream: h += down(act(gate(norm(h))) * up(norm(h))). */
export function fusedGatedMlp(ctx: GpuContext, w: MlpWeights, act: Activation, s: MlpScratch, fused: FusedResidual): void {
  const I = w.down.shape[1]!;
  const gu = ctx.view(s.gateUp, [1, 2 * I]);
  matmulFused(ctx, fused.h, w.gateUp, gu, w.gateUpBias, { norm: fused.norm });
  if (act === 'silu' && matmulSiluGlu(ctx, gu, w.down, fused.h, w.downBias, true)) return;
  const a = ctx.view(s.act, [1, I]);
  glu(ctx, gu, a, act);
  matmulFused(ctx, a, w.down, fused.h, w.downBias, { accumulate: true });
}
