import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import { numel, type Tensor } from '../gpu/tensor.js';
import { alignedBinding } from './binding.js';

/**
 * Idefics3's pixel shuffle: x [tiles * h * w, D] f32 (each tile an h x w grid of vectors, row by row) →
 * out [tiles * (h / s) * (w / s), s * s * D] f32, each s x s block of a tile one row (src/kernels/ref/pixelShuffle.ts).
 */
export function pixelShuffle(ctx: GpuContext, x: Tensor, out: Tensor, grid: { tiles: number; h: number; w: number; s: number }): void {
  const { tiles, h, w, s } = grid;
  const fail = (m: string) => {
    throw new InvalidArgumentError(`pixelShuffle: ${m}`);
  };
  if (x.dtype !== 'f32' || x.shape.length !== 2) fail(`x must be a 2-d f32 tensor, got ${x.dtype} [${x.shape}]`);
  if (![tiles, h, w, s].every((n) => Number.isInteger(n) && n > 0)) fail(`tiles ${tiles}, h ${h}, w ${w}, s ${s} must be positive integers`);
  if (h % s !== 0 || w % s !== 0) fail(`the ${h} x ${w} grid is not whole ${s} x ${s} blocks`);
  const D = x.shape[1]!;
  if (x.shape[0] !== tiles * h * w) fail(`x has ${x.shape[0]} rows; ${tiles} tiles of ${h} x ${w} need ${tiles * h * w}`);
  const rows = (tiles * h * w) / (s * s);
  const cols = s * s * D;
  if (out.dtype !== 'f32' || numel(out.shape) !== rows * cols || out.shape[out.shape.length - 1] !== cols) {
    fail(`out must be [${rows}, ${cols}] f32, got ${out.dtype} [${out.shape}]`);
  }
  if (rows > ctx.limits.maxComputeWorkgroupsPerDimension) fail(`${rows} output rows exceed one dispatch dimension`);
  const xb = alignedBinding(ctx, x);
  const ob = alignedBinding(ctx, out);
  ctx.dispatch(
    { shader: 'pixelShuffle', layout: ['uniform', 'read', 'storage'] },
    [xb.binding, ob.binding],
    [Math.ceil(cols / 64), rows],
    params()
      .u32(rows)
      .u32(cols)
      .u32(D)
      .u32(s)
      .u32(w)
      .u32(w / s)
      .u32((h / s) * (w / s))
      .u32(xb.byteOffset / 4)
      .u32(ob.byteOffset / 4),
  );
}
