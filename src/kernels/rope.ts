import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import type { Tensor } from '../gpu/tensor.js';
import { ioPlan } from './binding.js';
import { strideGrid } from './elementwise.js';

export interface RopeOptions {
  /** neox: halves (x[i], x[i + rotaryDim/2]), HF rotate_half; interleaved: pairs (2i, 2i + 1), GPT-J / DeepSeek. */
  readonly layout: 'neox' | 'interleaved';
  readonly rotaryDim: number;
  /** First rotated dim inside a head (default 0). */
  readonly offset?: number;
  /** Multiplies cos and sin (YaRN's attention factor; default 1). */
  readonly attentionFactor?: number;
  /**
   * M-RoPE (Qwen2-VL): positions are 3 rows [3, P] (t, h, w; P >= T) and the rotated pairs split into these
   * three runs (summing to rotaryDim / 2), each turned by its row's position.
   */
  readonly mropeSections?: readonly [number, number, number];
}

/**
 * Rotates x [T, nHeads, headStride] f32 in place by the angles positions[t] * invFreq[i] (f32), for the
 * dims [offset, offset + rotaryDim) of each head; with `mropeSections`, positions[row(i)][t] * invFreq[i].
 */
export function rope(ctx: GpuContext, x: Tensor, positions: Tensor, invFreq: Tensor, o: RopeOptions): void {
  if (x.dtype !== 'f32' || x.shape.length !== 3) throw new InvalidArgumentError(`rope: x must be [T, nHeads, headStride] f32, got [${x.shape}] ${x.dtype}`);
  const [T, nHeads, headStride] = x.shape as [number, number, number];
  const offset = o.offset ?? 0;
  if (!(o.rotaryDim > 0 && o.rotaryDim % 2 === 0 && offset >= 0 && offset + o.rotaryDim <= headStride)) {
    throw new InvalidArgumentError(`rope: rotaryDim ${o.rotaryDim} (even) at offset ${offset} must fit in a head of ${headStride}`);
  }
  const half = o.rotaryDim / 2;
  const sec = o.mropeSections;
  if (sec) {
    if (positions.dtype !== 'u32' || positions.shape.length !== 2 || positions.shape[0] !== 3 || positions.shape[1]! < T) {
      throw new InvalidArgumentError(`rope: M-RoPE positions must be [3, >= ${T}] u32, got [${positions.shape}] ${positions.dtype}`);
    }
    if (sec.length !== 3 || sec.some((s) => !Number.isInteger(s) || s < 0) || sec[0] + sec[1] + sec[2] !== half) {
      throw new InvalidArgumentError(`rope: mrope sections [${sec}] must be 3 counts summing to rotaryDim / 2 = ${half}`);
    }
  } else if (positions.dtype !== 'u32' || positions.shape.reduce((a, b) => a * b, 1) < T) {
    throw new InvalidArgumentError(`rope: positions must be [${T}] u32, got [${positions.shape}] ${positions.dtype}`);
  }
  if (invFreq.dtype !== 'f32' || invFreq.shape.reduce((a, b) => a * b, 1) !== half) {
    throw new InvalidArgumentError(`rope: invFreq must be [${half}] f32, got [${invFreq.shape}] ${invFreq.dtype}`);
  }
  const plan = ioPlan('rope', [x, positions, invFreq], undefined);
  const n = T * nHeads * half;
  ctx.dispatch(
    {
      shader: 'rope',
      defines: { INTERLEAVED: o.layout === 'interleaved', MROPE: !!sec, B_ACCESS: plan.access[1]!, C_ACCESS: plan.access[2]! },
      layout: ['uniform', ...plan.kinds],
    },
    [x, positions, invFreq],
    strideGrid(n),
    params()
      .u32(n)
      .u32(nHeads)
      .u32(headStride)
      .u32(half)
      .u32(offset)
      .f32(o.attentionFactor ?? 1)
      .u32(sec ? positions.shape[1]! : 0)
      .u32(sec?.[0] ?? 0)
      .u32(sec?.[1] ?? 0),
  );
}
