import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';

/**
 * y[t, h, :] = W[h] · x[t, h, :]: x [T, H, A], W [H, B, A] (or [H, A, B] with transposeW), y [T, H, B].
 * DeepSeek MLA's absorbed projections.
 */
export function headMatmul(ctx: GpuContext, x: Tensor, w: Tensor, y: Tensor, transposeW = false): void {
  const [T, H, A] = x.shape as [number, number, number];
  const B = y.shape[2]!;
  const [wh, w1, w2] = w.shape as [number, number, number];
  if (w.dtype !== 'f32') throw new InvalidArgumentError(`headMatmul: weights must be f32, got ${w.dtype}`);
  if (wh !== H || (transposeW ? w1 !== A || w2 !== B : w1 !== B || w2 !== A) || y.shape[0] !== T || y.shape[1] !== H) {
    throw new InvalidArgumentError(`headMatmul: x [${x.shape}], w [${w.shape}], y [${y.shape}] (transposeW ${transposeW}) do not fit`);
  }
  ctx.dispatch(
    { shader: 'headMatmul', layout: ['uniform', 'read', 'read', 'storage'] },
    [x, w, y],
    [Math.ceil(B / 64), H, T],
    params().u32(T).u32(H).u32(A).u32(B).u32(transposeW ? 1 : 0),
  );
}
