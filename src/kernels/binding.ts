import { InvalidArgumentError } from '../errors.js';
import type { Binding, GpuContext } from '../gpu/context.js';
import type { BindingKind } from '../gpu/pipelineCache.js';
import { tensorBytes, type Tensor } from '../gpu/tensor.js';

// Storage bindings of tensors: the binding limit, weights split into row ranges that fit it, tensors at any
// offset bound at one the device accepts, and the access modes of tensors that share a buffer.

/** The largest storage binding kernels use: the device's, or lower for tests (ctx.kernelOverrides.maxBinding). */
export function maxBinding(ctx: GpuContext): number {
  return ctx.kernelOverrides?.maxBinding || ctx.limits.maxStorageBufferBindingSize;
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

/**
 * How a kernel binds its tensors when some share a buffer. WebGPU forbids a buffer bound both read-only
 * and writable in one dispatch, and two overlapping writable bindings; so an input in the output's
 * buffer is bound read_write, and an output equal to the first input (same buffer, offset and size) is
 * written through that input's binding (`inPlace`, the out binding is left out).
 */
export interface IoPlan {
  readonly inPlace: boolean;
  /** Per input: WGSL access mode and the matching layout kind. */
  readonly access: readonly ('read' | 'read_write')[];
  readonly kinds: readonly BindingKind[];
}

function range(t: Tensor): [number, number] {
  return [t.offset, t.offset + tensorBytes(t)];
}

export function overlaps(a: Tensor, b: Tensor): boolean {
  if (a.buffer !== b.buffer) return false;
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 < b1 && b0 < a1;
}

function sameRange(a: Tensor, b: Tensor): boolean {
  return a.buffer === b.buffer && a.offset === b.offset && tensorBytes(a) === tensorBytes(b);
}

/**
 * Plans the bindings of `inputs` and `out` (out undefined: inputs[0] is modified in place). With
 * `firstWritten`, inputs[0] is written too (a residual updated in place) besides `out`.
 */
export function ioPlan(what: string, inputs: readonly Tensor[], out: Tensor | undefined, firstWritten = false): IoPlan {
  const inPlace = out === undefined || sameRange(out, inputs[0]!);
  const writables = inPlace || firstWritten ? [inputs[0]!] : [];
  if (!inPlace) writables.push(out!);
  const written = (i: number) => i === 0 && writables[0] === inputs[0];
  const access = inputs.map((t, i) => (written(i) || writables.some((w) => w.buffer === t.buffer) ? 'read_write' : 'read')) as ('read' | 'read_write')[];
  inputs.forEach((t, i) => {
    for (const w of writables) {
      if (!(i === 0 && w === inputs[0]) && overlaps(t, w)) {
        throw new InvalidArgumentError(`${what}: input ${i} [${t.shape}] overlaps a tensor the kernel writes`);
      }
    }
  });
  if (!inPlace && firstWritten && overlaps(inputs[0]!, out!)) {
    throw new InvalidArgumentError(`${what}: the output overlaps input 0, which is also written`);
  }
  return { inPlace, access, kinds: access.map((a) => (a === 'read' ? 'read' : 'storage')) };
}

/** The WGSL defines naming the access mode of input i (`${A_ACCESS}` ...). */
export const ACCESS_NAMES = ['A_ACCESS', 'B_ACCESS', 'C_ACCESS', 'D_ACCESS'];
