import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';

/** Token counts up to which the matrix-vector entries (rowDot / colDot) run instead of the tiled one. */
const SMALL_T = 4;

/**
 * y[t, h, :] = W[h] · x[t, h, :]: x [T, H, A], W [H, B, A] (or [H, A, B] with transposeW, giving
 * W[h]ᵀ · x[t, h, :]), y [T, H, B], all f32. DeepSeek MLA's absorbed projections.
 */
export function headMatmul(ctx: GpuContext, x: Tensor, w: Tensor, y: Tensor, transposeW = false): void {
  const [T, H, A] = x.shape as [number, number, number];
  const B = y.shape[2]!;
  const [wh, w1, w2] = w.shape as [number, number, number];
  if (x.dtype !== 'f32' || w.dtype !== 'f32' || y.dtype !== 'f32') {
    throw new InvalidArgumentError(`headMatmul: x, w and y must be f32, got ${x.dtype}, ${w.dtype}, ${y.dtype}`);
  }
  if (
    x.shape.length !== 3 ||
    w.shape.length !== 3 ||
    y.shape.length !== 3 ||
    wh !== H ||
    (transposeW ? w1 !== A || w2 !== B : w1 !== B || w2 !== A) ||
    y.shape[0] !== T ||
    y.shape[1] !== H
  ) {
    throw new InvalidArgumentError(`headMatmul: x [${x.shape}], w [${w.shape}], y [${y.shape}] (transposeW ${transposeW}) do not fit`);
  }
  const layout = ['uniform', 'read', 'read', 'storage'] as const;
  const p = params().u32(T).u32(H).u32(A).u32(B);
  if (T <= SMALL_T) {
    if (transposeW) ctx.dispatch({ shader: 'headMatmul', entry: 'colDot', layout }, [x, w, y], [Math.ceil(B / 64), H], p);
    else ctx.dispatch({ shader: 'headMatmul', entry: 'rowDot', layout }, [x, w, y], [Math.ceil(B / 8), H], p);
    return;
  }
  ctx.dispatch({ shader: 'headMatmul', entry: 'tiled', defines: { TRANSPOSE: transposeW }, layout }, [x, w, y], [Math.ceil(B / 16), Math.ceil(T / 16), H], p);
}
