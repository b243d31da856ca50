import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import { dtypeLayout, numel, type Tensor } from '../gpu/tensor.js';
import { alignedBinding, rowParts } from './binding.js';
import { weightDefineOf } from './weights.js';

/**
 * out[T, H] = table[ids[t], :] * scale: ids [T] u32 (or i32), table [V, H] in any weight dtype, out f32.
 * Ids outside the table give zero rows. Gemma passes scale = sqrt(H).
 */
export function embedding(ctx: GpuContext, ids: Tensor, table: Tensor, out: Tensor, scale = 1): void {
  if (table.shape.length !== 2) throw new InvalidArgumentError(`embedding: table must be [V, H], got [${table.shape}]`);
  const [, H] = table.shape as [number, number];
  const define = weightDefineOf('embedding', table.dtype);
  const { blockElems, blockBytes } = dtypeLayout[table.dtype];
  if (H % blockElems !== 0) throw new InvalidArgumentError(`embedding: H = ${H} is not whole ${table.dtype} blocks of ${blockElems}`);
  if (ids.dtype !== 'u32' && ids.dtype !== 'i32') throw new InvalidArgumentError(`embedding: ids must be u32, got ${ids.dtype}`);
  const T = numel(ids.shape);
  if (out.dtype !== 'f32' || numel(out.shape) !== T * H || out.shape[out.shape.length - 1] !== H) {
    throw new InvalidArgumentError(`embedding: out must be [${T}, ${H}] f32, got [${out.shape}] ${out.dtype}`);
  }
  if (T === 0) return;
  const ib = alignedBinding(ctx, ids);
  const ob = alignedBinding(ctx, out);
  const rowBytes = (H / blockElems) * blockBytes;
  // A table larger than one binding is read in row ranges, one dispatch each.
  const parts = rowParts(ctx, table);
  parts.forEach(({ n0, n }, i) => {
    const wb = alignedBinding(ctx, ctx.view(table, [n, H], n0 * rowBytes));
    ctx.dispatch(
      { shader: 'embedding', defines: { [define]: true }, layout: ['uniform', 'read', 'read', 'storage'] },
      [ib.binding, wb.binding, ob.binding],
      [Math.ceil(H / 256), T],
      params()
        .u32(T)
        .u32(H)
        .u32(n)
        .u32(rowBytes)
        .u32(wb.byteOffset)
        .u32(ib.byteOffset / 4)
        .u32(ob.byteOffset / 4)
        .f32(scale)
        .u32(n0)
        .u32(i === parts.length - 1 ? 1 : 0),
    );
  });
}
