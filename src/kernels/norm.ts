import { InvalidArgumentError } from '../errors.js';
import type { Binding, GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import type { BindingKind } from '../gpu/pipelineCache.js';
import { numel, type Tensor } from '../gpu/tensor.js';
import { ACCESS_NAMES, alignedBinding, ioPlan } from './binding.js';
import { checkF32 } from './elementwise.js';
import { xPlanesK } from './xPlanes.js';

const MAX_X = 65535;

/** Rows of x (numel / H) for a weight of [H]; x may be [T, H] or [T * heads, headDim] viewed as any shape. */
function rowsOf(what: string, x: Tensor, w: Tensor, y: Tensor): { rows: number; H: number } {
  checkF32(what, x, w, y);
  if (w.shape.length !== 1) throw new InvalidArgumentError(`${what}: weight must be [H], got [${w.shape}]`);
  const H = w.shape[0]!;
  const n = numel(x.shape);
  if (n % H !== 0 || x.shape[x.shape.length - 1]! % H !== 0) {
    throw new InvalidArgumentError(`${what}: x [${x.shape}] is not rows of the weight's ${H}`);
  }
  if (numel(y.shape) !== n) throw new InvalidArgumentError(`${what}: y [${y.shape}] differs in size from x [${x.shape}]`);
  return { rows: n / H, H };
}

function dispatchNorm(
  ctx: GpuContext,
  mode: 'RMS' | 'ADD' | 'LAYER',
  inputs: Tensor[],
  y: Tensor,
  extra: { bias?: boolean },
  rows: number,
  H: number,
  eps: number,
  weightOffset: number,
  unusedBias: boolean,
  planes?: Tensor,
): void {
  const plan = ioPlan(`${mode.toLowerCase()}Norm`, inputs, y, mode === 'ADD');
  const vec4 = H % 4 === 0;
  const hv = vec4 ? H / 4 : H;
  const defines: Record<string, string | number | boolean> = {
    V: vec4 ? 'vec4<f32>' : 'f32',
    VEC4: vec4,
    WG: hv <= 64 ? 64 : hv <= 512 ? 128 : 256,
    [mode]: true,
    IN_PLACE: plan.inPlace,
    HAS_BIAS: !!extra.bias,
  };
  plan.access.forEach((a, i) => (defines[ACCESS_NAMES[i]!] = a));
  const layout: BindingKind[] = ['uniform', ...plan.kinds];
  const bindings: Binding[] = [...inputs];
  if (unusedBias) {
    defines[ACCESS_NAMES[inputs.length]!] = 'read';
    layout.push('read');
    bindings.push(ctx.unused);
  }
  if (!plan.inPlace) {
    layout.push('storage');
    bindings.push(y);
  }
  let xpOff = 0;
  if (planes) {
    if (rows !== 1 || H % 64 !== 0 || planes.dtype !== 'u32' || xPlanesK(planes) !== H) {
      throw new InvalidArgumentError(
        `${mode.toLowerCase()}Norm: planes [${planes.shape}] ${planes.dtype} need one row of H = ${H}, a multiple of 64, and planes of that H`,
      );
    }
    const pb = alignedBinding(ctx, planes);
    if (pb.byteOffset % 16 !== 0) throw new InvalidArgumentError(`${mode.toLowerCase()}Norm: planes must be 16-byte aligned`);
    defines.XP_WRITE = true;
    defines.XP_BINDING = layout.length;
    layout.push('storage');
    bindings.push(pb.binding);
    xpOff = pb.byteOffset / 16;
  }
  const gx = Math.min(rows, MAX_X);
  ctx.dispatch(
    { shader: 'norm', defines, layout },
    bindings,
    [gx, Math.ceil(rows / gx)],
    params().u32(rows).u32(hv).f32(H).f32(eps).f32(weightOffset).u32(gx).u32(xpOff),
  );
}

/**
 * y = x * rsqrt(mean(x²) + eps) * (w + weightOffset) over rows of H = w.shape[0] (so per-head q/k norms
 * work on x viewed as [T * heads, headDim]). y may be x. weightOffset 1 is Gemma's x * (1 + w). With
 * `planes` (one row, H a multiple of 64) y is also written in planes for the decode GEMV after the norm.
 */
export function rmsNorm(ctx: GpuContext, x: Tensor, w: Tensor, y: Tensor, eps: number, weightOffset = 0, planes?: Tensor): void {
  const { rows, H } = rowsOf('rmsNorm', x, w, y);
  dispatchNorm(ctx, 'RMS', [x, w], y, {}, rows, H, eps, weightOffset, false, planes);
}

/** residual += delta (in place), then y = rmsNorm(residual): one dispatch. `planes` as for rmsNorm. */
export function addRmsNorm(ctx: GpuContext, residual: Tensor, delta: Tensor, w: Tensor, y: Tensor, eps: number, weightOffset = 0, planes?: Tensor): void {
  const { rows, H } = rowsOf('addRmsNorm', residual, w, y);
  checkF32('addRmsNorm', delta);
  if (numel(delta.shape) !== rows * H) throw new InvalidArgumentError(`addRmsNorm: delta [${delta.shape}] differs in size from residual [${residual.shape}]`);
  dispatchNorm(ctx, 'ADD', [residual, delta, w], y, {}, rows, H, eps, weightOffset, false, planes);
}

/** y = (x - mean) * rsqrt(var + eps) * w (+ b) over rows of H = w.shape[0], biased variance. y may be x. */
export function layerNorm(ctx: GpuContext, x: Tensor, w: Tensor, b: Tensor | undefined, y: Tensor, eps: number): void {
  const { rows, H } = rowsOf('layerNorm', x, w, y);
  if (b) {
    checkF32('layerNorm', b);
    if (numel(b.shape) !== H) throw new InvalidArgumentError(`layerNorm: bias [${b.shape}] must be [${H}]`);
  }
  dispatchNorm(ctx, 'LAYER', b ? [x, w, b] : [x, w], y, { bias: !!b }, rows, H, eps, 0, !b);
}
