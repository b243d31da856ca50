import { InvalidArgumentError } from '../errors.js';
import type { Binding, GpuContext } from '../gpu/context.js';
import { tensorBytes, type Tensor } from '../gpu/tensor.js';

// Storage bindings of tensors: the binding limit, weights split into row ranges that fit it, and tensors at
// any offset bound at one the device accepts.

/** The largest storage binding kernels use: the device's, or lower for tests (bindingTuning.maxBinding). */
export const bindingTuning = { maxBinding: 0 };
export function maxBinding(ctx: GpuContext): number {
  return bindingTuning.maxBinding || ctx.limits.maxStorageBufferBindingSize;
}

/**
 * Row ranges of a [N, ...] weight whose bindings each fit the binding limit (with room for the offset
 * alignment): one range when the whole weight fits. Tensors larger than a binding stay one buffer and are
 * used part by part.
 */
export function rowParts(ctx: GpuContext, w: Tensor): { n0: number; n: number }[] {
  const N = w.shape[0]!;
  const rowBytes = tensorBytes(w) / N;
  const room = maxBinding(ctx) - ctx.limits.minStorageBufferOffsetAlignment - 4;
  if (tensorBytes(w) <= room) return [{ n0: 0, n: N }];
  const per = Math.floor(room / rowBytes);
  if (per < 1) throw new InvalidArgumentError(`${w.label ?? 'tensor'}: one row of ${rowBytes} bytes exceeds the binding limit`);
  const parts: { n0: number; n: number }[] = [];
  for (let n0 = 0; n0 < N; n0 += per) parts.push({ n0, n: Math.min(per, N - n0) });
  return parts;
}

/**
 * A tensor bound at an offset the device accepts (a multiple of minStorageBufferOffsetAlignment) and
 * the byte offset of its first element inside that binding, for views at any offset.
 */
export function alignedBinding(ctx: GpuContext, t: Tensor): { binding: Binding; byteOffset: number } {
  const align = ctx.limits.minStorageBufferOffsetAlignment;
  const base = Math.floor(t.offset / align) * align;
  const byteOffset = t.offset - base;
  const size = Math.min(Math.ceil((byteOffset + tensorBytes(t)) / 4) * 4, t.buffer.size - base);
  if (size > maxBinding(ctx)) {
    throw new InvalidArgumentError(
      `${t.label ?? 'tensor'} [${t.shape}] ${t.dtype}: ${size} bytes exceed this adapter's maxStorageBufferBindingSize ` +
        `(${maxBinding(ctx)}); split it into row ranges`,
    );
  }
  return { binding: { buffer: t.buffer, offset: base, size }, byteOffset };
}
