import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import { numel, type Tensor } from '../gpu/tensor.js';
import { alignedBinding } from './binding.js';

/**
 * x in the form the integer-dot decode GEMV reads (shaders/xPlanes.wgsl): per block of 32 values a scale and
 * two int8 planes, 144 bytes per 64 values. A norm that feeds a decode GEMV writes them next to its f32
 * output (rmsNorm / addRmsNorm with `planes`), so that the GEMV's workgroups do not each encode x again.
 */
export function createXPlanes(ctx: GpuContext, K: number, label = 'x planes'): Tensor {
  if (K % 64 !== 0) throw new InvalidArgumentError(`x planes: K = ${K} is not a multiple of 64`);
  return ctx.createTensor([(K / 64) * 36], 'u32', label);
}

/** K of a planes tensor. */
export function xPlanesK(planes: Tensor): number {
  return (numel(planes.shape) / 36) * 64;
}

/** planes = x (one row of K f32) in planes, by a kernel of its own (for an x that no norm produces). */
export function encodeXPlanes(ctx: GpuContext, x: Tensor, planes: Tensor): void {
  const K = numel(x.shape);
  if (x.dtype !== 'f32' || planes.dtype !== 'u32' || xPlanesK(planes) !== K) {
    throw new InvalidArgumentError(`encodeXPlanes: x [${x.shape}] ${x.dtype} does not match planes [${planes.shape}] ${planes.dtype}`);
  }
  const xb = alignedBinding(ctx, x);
  const pb = alignedBinding(ctx, planes);
  if (xb.byteOffset % 16 !== 0 || pb.byteOffset % 16 !== 0) throw new InvalidArgumentError('encodeXPlanes: x and planes must be 16-byte aligned');
  ctx.dispatch(
    { shader: 'xPlanesEncode', defines: { XP_WRITE: true }, layout: ['uniform', 'read', 'storage'] },
    [xb.binding, pb.binding],
    [Math.ceil(K / 32 / 64)],
    params()
      .u32(K)
      .u32(xb.byteOffset / 16)
      .u32(pb.byteOffset / 16),
  );
}
