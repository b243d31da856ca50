import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { POSITION } from '../gpu/capture.js';
import { params } from '../gpu/params.js';
import { numel, type Tensor } from '../gpu/tensor.js';

/**
 * Appends T tokens to a layer's KV cache: token t goes to slot (startPos + t) % capacity.
 * kNew [T, nKv, hd] → kCache [capacity, nKv, hd]; vNew [T, nKv, hdV] → vCache [capacity, nKv, hdV].
 */
export function writeKv(ctx: GpuContext, kNew: Tensor, vNew: Tensor | undefined, kCache: Tensor, vCache: Tensor | undefined, startPos: number): void {
  const T = kNew.shape[0]!;
  const capacity = kCache.shape[0]!;
  const kRow = numel(kNew.shape) / T;
  if (kRow !== numel(kCache.shape) / capacity) throw new InvalidArgumentError(`writeKv: k rows [${kNew.shape}] do not match the cache [${kCache.shape}]`);
  if (T > capacity) throw new InvalidArgumentError(`writeKv: ${T} tokens exceed the cache capacity ${capacity}`);
  const hasV = !!(vNew && vCache);
  const vRow = hasV ? numel(vNew!.shape) / T : 0;
  if (hasV && vRow !== numel(vCache!.shape) / vCache!.shape[0]!) throw new InvalidArgumentError('writeKv: v rows do not match the cache');
  ctx.dispatch(
    { shader: 'kvCache', defines: { HAS_V: hasV }, layout: hasV ? ['uniform', 'read', 'storage', 'read', 'storage'] : ['uniform', 'read', 'storage'] },
    hasV ? [kNew, kCache, vNew!, vCache!] : [kNew, kCache],
    [Math.ceil(Math.max(kRow, vRow) / 64), T],
    params().u32(T).u32(kRow).u32(vRow).u32(capacity).u32(startPos, POSITION),
  );
}
