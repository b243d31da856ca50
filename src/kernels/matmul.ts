import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';

/** y[T, N] = x[T, K] · w[N, K]ᵀ (+ bias[N]). */
export function matmul(ctx: GpuContext, x: Tensor, w: Tensor, y: Tensor, bias?: Tensor): void {
  const [N, K] = w.shape as [number, number];
  const T = x.shape.length === 1 ? 1 : x.shape[0]!;
  if (w.dtype !== 'f32') throw new Error(`matmul: weight dtype ${w.dtype} is not supported yet`);
  ctx.dispatch(
    { shader: 'matmul', layout: ['uniform', 'read', 'read', 'read', 'storage'] },
    [x, w, bias ?? ctx.unused, y],
    [Math.ceil(N / 16), Math.ceil(T / 16)],
    params().u32(T).u32(N).u32(K).u32(bias ? 1 : 0),
  );
}
