import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';

/** Router rows per workgroup (shaders/moeRouter.wgsl's R). */
const ROWS = 4;

/** An RMSNorm's weight and settings. */
export interface NormSpec {
  readonly weight: Tensor; // [H] f32
  readonly eps: number;
  readonly weightOffset: number;
}

/**
 * The router of a MoE block for one decode token from its residual stream (shaders/moeRouter.wgsl):
 * x = rmsNorm(h) [1, H] (written for the experts) and logits = x · routerᵀ (+ bias) [1, E], one dispatch.
 */
export function moeRouterNormed(ctx: GpuContext, h: Tensor, norm: NormSpec, router: Tensor, bias: Tensor | undefined, x: Tensor, logits: Tensor): void {
  const fail = (msg: string) => {
    throw new InvalidArgumentError(`moeRouterNormed: ${msg}`);
  };
  const [E, H] = router.shape as [number, number];
  const is = (t: Tensor, shape: number[]) => t.dtype === 'f32' && t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
  if (router.dtype !== 'f32' || router.shape.length !== 2) fail(`the router must be [E, H] f32, got [${router.shape}] ${router.dtype}`);
  if (H % 4 !== 0) fail(`H ${H} must be a multiple of 4`);
  if (!is(h, [1, H]) || !is(x, [1, H])) fail(`h [${h.shape}] and x [${x.shape}] must be [1, ${H}] f32`);
  if (!is(norm.weight, [H])) fail(`the norm weight must be [${H}] f32, got [${norm.weight.shape}]`);
  if (!is(logits, [1, E])) fail(`logits must be [1, ${E}] f32, got [${logits.shape}]`);
  if (bias && !is(bias, [E])) fail(`the bias must be [${E}] f32, got [${bias.shape}]`);
  if (h.buffer === x.buffer) fail('x must not share a buffer with h');
  ctx.dispatch(
    { shader: 'moeRouter', layout: ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage'] },
    [h, norm.weight, router, bias ?? ctx.unused, x, logits],
    [Math.ceil(E / ROWS)],
    params()
      .u32(H / 4)
      .u32(E)
      .f32(H)
      .f32(norm.eps)
      .f32(norm.weightOffset)
      .u32(bias ? 1 : 0),
  );
}
