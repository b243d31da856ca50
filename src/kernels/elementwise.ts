import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import type { BindingKind } from '../gpu/pipelineCache.js';
import { numel, type Tensor } from '../gpu/tensor.js';
import { ACCESS_NAMES, ioPlan, overlaps } from './binding.js';

export type Activation = 'silu' | 'gelu_tanh' | 'gelu_erf' | 'quick_gelu' | 'relu';

const ACT_DEFINE: Record<Activation, string> = {
  silu: 'ACT_SILU',
  gelu_tanh: 'ACT_GELU_TANH',
  gelu_erf: 'ACT_GELU_ERF',
  quick_gelu: 'ACT_QUICK_GELU',
  relu: 'ACT_RELU',
};

const WG = 256;
const MAX_GROUPS = 65535;

export function checkF32(what: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new InvalidArgumentError(`${what}: tensors must be f32, got ${t.dtype} [${t.shape}]`);
}

/** A 1-D grid for a grid-stride loop over n items of 256-thread workgroups. */
export function strideGrid(n: number): [number] {
  return [Math.min(Math.ceil(n / WG), MAX_GROUPS)];
}

function run(
  ctx: GpuContext,
  what: string,
  op: string,
  inputs: readonly Tensor[],
  out: Tensor | undefined,
  n: number,
  vec4: boolean,
  extra: Record<string, string | number | boolean>,
  p: { cols?: number; s?: number },
): void {
  const plan = ioPlan(what, inputs, out);
  const defines: Record<string, string | number | boolean> = {
    V: vec4 ? 'vec4<f32>' : 'f32',
    VEC4: vec4,
    [op]: true,
    TWO_INPUTS: inputs.length >= 2,
    IN_PLACE: plan.inPlace,
    ...extra,
  };
  plan.access.forEach((a, i) => (defines[ACCESS_NAMES[i]!] = a));
  const layout: BindingKind[] = ['uniform', ...plan.kinds];
  const bindings: Tensor[] = [...inputs];
  if (!plan.inPlace && out) {
    layout.push('storage');
    bindings.push(out);
  }
  const w = vec4 ? 4 : 1;
  const count = n / w;
  ctx.dispatch(
    { shader: 'elementwise', defines, layout },
    bindings,
    strideGrid(count),
    params()
      .u32(count)
      .u32((p.cols ?? 0) / w)
      .f32(p.s ?? 0),
  );
}

function sameCount(what: string, a: Tensor, b: Tensor): number {
  const n = numel(a.shape);
  if (numel(b.shape) !== n) throw new InvalidArgumentError(`${what}: [${a.shape}] and [${b.shape}] differ in size`);
  return n;
}

/** out = a + bScale * b (out may be a). */
export function add(ctx: GpuContext, a: Tensor, b: Tensor, out: Tensor, bScale = 1): void {
  checkF32('add', a, b, out);
  const n = sameCount('add', a, b);
  sameCount('add', a, out);
  run(ctx, 'add', 'OP_ADD', [a, b], out, n, n % 4 === 0, {}, { s: bScale });
}

/** out = s * x (out may be x). */
export function scale(ctx: GpuContext, x: Tensor, out: Tensor, s: number): void {
  checkF32('scale', x, out);
  const n = sameCount('scale', x, out);
  run(ctx, 'scale', 'OP_SCALE', [x], out, n, n % 4 === 0, {}, { s });
}

/** out = act(x) (out may be x). */
export function activation(ctx: GpuContext, x: Tensor, out: Tensor, act: Activation): void {
  checkF32('activation', x, out);
  const n = sameCount('activation', x, out);
  run(ctx, 'activation', 'OP_ACT', [x], out, n, n % 4 === 0, { [actDefine(act)]: true }, {});
}

/** out = cap * tanh(x / cap) (out may be x). */
export function softcap(ctx: GpuContext, x: Tensor, out: Tensor, cap: number): void {
  checkF32('softcap', x, out);
  if (!(cap > 0)) throw new InvalidArgumentError(`softcap: cap must be > 0, got ${cap}`);
  const n = sameCount('softcap', x, out);
  run(ctx, 'softcap', 'OP_SOFTCAP', [x], out, n, n % 4 === 0, {}, { s: cap });
}

/** Gated linear unit: out[T, I] = act(gate) * up, gate and up from gateUp[T, 2I] (columns [0, I) and [I, 2I)). */
export function glu(ctx: GpuContext, gateUp: Tensor, out: Tensor, act: Activation): void {
  checkF32('glu', gateUp, out);
  const I = out.shape[out.shape.length - 1]!;
  const T = numel(out.shape) / I;
  if (numel(gateUp.shape) !== T * 2 * I || gateUp.shape[gateUp.shape.length - 1] !== 2 * I) {
    throw new InvalidArgumentError(`glu: gateUp [${gateUp.shape}] must be [${T}, ${2 * I}] for out [${out.shape}]`);
  }
  if (overlaps(gateUp, out)) throw new InvalidArgumentError('glu: out must not overlap gateUp');
  run(ctx, 'glu', 'OP_GLU', [gateUp], out, T * I, I % 4 === 0, { [actDefine(act)]: true }, { cols: I });
}

function actDefine(act: Activation): string {
  const d = ACT_DEFINE[act];
  if (!d) throw new InvalidArgumentError(`unknown activation ${String(act)}`);
  return d;
}
