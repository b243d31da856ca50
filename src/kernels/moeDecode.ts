import { InvalidArgumentError } from '../errors.js';
import type { Binding, GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import { byteSizeOf, type DType, type Tensor } from '../gpu/tensor.js';
import { alignedBinding } from './binding.js';
import type { MoeActivation, MoeExpertWeights } from './moeTypes.js';

// MoE decode experts (moeExperts' per-(token, slot) path, T <= 4) on integer dot products: gate|up of the
// selected experts with the activation (shaders/moeDecodeGateUp.wgsl), then down with the routing weights
// and the combine (shaders/moeDecodeDown.wgsl), two dispatches as the f32 `pairs` path. x is quantized to int8
// per block of 32 in each gate|up workgroup, act per block of 32 by the workgroup that computes it; weights
// are read as stored (Q4_0 / Q8_0 / Q4_K) and meet them through dot4I8Packed.
//
// Precision: as the integer-dot grouped GEMMs (src/kernels/moeGemmInt8.ts): each x and act value within
// s / 2 of s * q (s = max|block| / 127); test/unit/moeDecode.test.ts holds the composed bound.

/** Lanes per weight row of gate|up (8, 16 or 32: 64 / (256 / L) rows per group). */
export const MOE_DECODE_GATE_UP_LANES = 32;
/** Lanes per gate|up row where a shared expert rides along (gateUpLanes). */
const MOE_DECODE_SHARED_GATE_UP_LANES = 16;
/** Lanes per output row of down, and rows per group (G * R = 256 / L * R rows per workgroup). */
export const MOE_DECODE_DOWN_LANES = 32;
export const MOE_DECODE_DOWN_ROWS = 1;
/** Units (blocks of 32; Q4_K: 64) each down lane loads per step before the arithmetic. */
export const MOE_DECODE_DOWN_UNITS = 3;

const DTYPES: readonly DType[] = ['q4_0', 'q8_0', 'q4_k'];

function define(dtype: DType): string {
  return dtype === 'q4_0' ? 'W_Q4_0' : dtype === 'q8_0' ? 'W_Q8_0' : 'W_Q4_K';
}

/** Rows of K values of this dtype that the decode units read: whole blocks (super-blocks), aligned as needed. */
function rowsFit(w: Tensor, K: number): boolean {
  if (!DTYPES.includes(w.dtype)) return false;
  if (w.dtype === 'q4_k') return K % 256 === 0 && w.offset % 4 === 0;
  return K % 32 === 0 && w.offset % 2 === 0;
}

/** Workgroup memory of the gate|up kernel for rows of H values (with the routing: its logits and choices). */
const gateUpShared = (H: number, L: number) => (H / 32) * 40 + 64 * L * 4 + 64 * 4 + 32 * 4 + 256 * 4 + 64 * 4;

/** The routing moeDecodeGateUp can do itself (ROUTE): a softmax router's top-k without groups or selection bias. */
export interface GateUpRoute {
  readonly logits: Tensor; // [T, E] f32
  /** 0: softmax over all experts; 2: softmax over the k chosen (renormalised softmax, or softmax after top-k). */
  readonly mode: 0 | 2;
  readonly scale: number;
  /** Written: the weights of the chosen experts [T, k] f32 (ids, the other output, is the `ids` argument). */
  readonly weights: Tensor;
}

/** Most experts the gate|up kernel routes among (one thread each). */
export const MOE_DECODE_ROUTE_MAX_EXPERTS = 256;

/**
 * Which halves of moeExperts' decode path take the integer-dot GEMVs: the packed dot product available
 * (ctx.kernelOverrides.moeDecode.use false: none), x at a vec4 boundary, Q4_0 / Q8_0 / Q4_K experts whose rows are whole
 * blocks (H for gate|up, I for down). Down runs on integer dot products only after an integer-dot gate|up
 * (it reads the int8 act that one writes).
 */
export function moeDecodePlan(ctx: GpuContext, x: Tensor, experts: MoeExpertWeights): { gateUp: boolean; down: boolean } {
  const [, I2, H] = experts.gateUp.shape as [number, number, number];
  const I = I2 / 2;
  const L = gateUpLanes(ctx, false); // the most workgroup memory of the two
  const gateUp =
    ctx.features.packedDot &&
    ctx.kernelOverrides?.moeDecode?.use !== false &&
    x.offset % 16 === 0 &&
    rowsFit(experts.gateUp, H) &&
    gateUpShared(H, L) <= ctx.limits.maxComputeWorkgroupStorageSize;
  return { gateUp, down: gateUp && rowsFit(experts.down, I) };
}

/**
 * Whether a shared expert (weight 1 for every token) can ride along in the decode GEMVs of these routed experts
 * (the `shared` argument of moeDecodeGateUp and moeDecodeDown) as S = Is / I more slots of width I per token:
 * the routed experts' dtypes, Is a multiple of I, whole-block rows, no biases, K + S at most 64, and one more
 * storage binding than the kernels take without it (gate|up with `route` then binds 8). moeDecodePlan's
 * gateUp and down are the caller's to check.
 */
export function moeDecodeSharedFits(ctx: GpuContext, experts: MoeExpertWeights, shared: MoeExpertWeights, k: number, route: boolean): boolean {
  const [, I2, H] = experts.gateUp.shape as [number, number, number];
  const [E1, Is2, Hs] = shared.gateUp.shape as [number, number, number];
  const S = Is2 / I2;
  return (
    E1 === 1 &&
    Hs === H &&
    Number.isInteger(S) &&
    k + S <= 64 &&
    shared.gateUp.dtype === experts.gateUp.dtype &&
    shared.down.dtype === experts.down.dtype &&
    !shared.gateUpBias &&
    !shared.downBias &&
    rowsFit(shared.gateUp, H) &&
    rowsFit(shared.down, Is2 / 2) &&
    ctx.limits.maxStorageBuffersPerShaderStage >= (route ? 8 : 7)
  );
}

/** Shared slots per token of a shared expert in the decode GEMVs (moeDecodeSharedFits holds). */
const sharedSlots = (experts: MoeExpertWeights, shared: MoeExpertWeights) => shared.gateUp.shape[1]! / experts.gateUp.shape[1]!;

/**
 * Lanes per gate|up row: 16 with a shared expert's slots folded in, else MOE_DECODE_GATE_UP_LANES. Measured on the
 * H200 (bench/README.md, "Stop 20"): DeepSeek-V2-Lite's gate|up with its 2 shared slots (352 workgroups)
 * 28.3 µs at 32 lanes, 21.2 at 16, 22.2 at 8; Qwen3-30B-A3B's (192, no shared expert) equal at 32 and 16.
 */
const gateUpLanes = (ctx: GpuContext, shared: boolean) =>
  ctx.kernelOverrides?.moeDecode?.gateUpLanes ?? (shared ? MOE_DECODE_SHARED_GATE_UP_LANES : MOE_DECODE_GATE_UP_LANES);

/** Bytes of act as the integer-dot gate|up writes it for down: P pairs of I values, int8 per block of 32. */
export function moeDecodeActBytes(P: number, I: number): number {
  const blocks = P * (I / 32);
  return blocks * 32 + Math.ceil(blocks / 2) * 16; // scale pairs two per vec4
}

/**
 * act for every pair = t*k + j of expert e = ids[t, j]: act_fn(gate_e · x_t + b) * (up_e · x_t + b), as
 * [T*k, I] f32, or (q8Out) int8 per block of 32 for moeDecodeDown. x [T, H] f32. With `route`, ids [T, k] is
 * written (with route.weights) from the router logits instead of read. With `shared` (gateUp [1, 2*S*I, H],
 * q8Out, moeDecodeSharedFits), the shared expert's S slots of I follow: pair T*k + t*S + s
 * (moeDecodeActBytes(T * (k + S), I)).
 */
export function moeDecodeGateUp(
  ctx: GpuContext,
  x: Tensor,
  ids: Tensor,
  experts: MoeExpertWeights,
  act: Binding,
  fn: MoeActivation,
  clamp: { limit: number; alpha: number } | undefined,
  q8Out: boolean,
  route?: GateUpRoute,
  shared?: MoeExpertWeights,
): void {
  const [, I2, H] = experts.gateUp.shape as [number, number, number];
  const I = I2 / 2;
  const [T, k] = ids.shape as [number, number];
  const L = gateUpLanes(ctx, !!shared);
  if (![8, 16, 32].includes(L)) throw new InvalidArgumentError(`moeDecodeGateUp: ${L} lanes per row; 8, 16 or 32`);
  if (q8Out && I % 32 !== 0) throw new InvalidArgumentError(`moeDecodeGateUp: int8 act needs I a multiple of 32, got ${I}`);
  const E = route?.logits.shape[1] ?? 0;
  if (route) {
    if (route.logits.dtype !== 'f32' || route.logits.shape[0] !== T || E > MOE_DECODE_ROUTE_MAX_EXPERTS || k > 64 || k > E)
      throw new InvalidArgumentError(
        `moeDecodeGateUp: routing ${k} of [${route.logits.shape}] logits: up to ${MOE_DECODE_ROUTE_MAX_EXPERTS} experts and 64 slots`,
      );
    if (route.weights.dtype !== 'f32' || route.weights.shape[0] !== T || route.weights.shape[1] !== k)
      throw new InvalidArgumentError(`moeDecodeGateUp: route weights must be [${T}, ${k}] f32, got [${route.weights.shape}]`);
  }
  if (shared && (!q8Out || !moeDecodeSharedFits(ctx, experts, shared, k, !!route)))
    throw new InvalidArgumentError(`moeDecodeGateUp: a shared expert [${shared.gateUp.shape}] ${shared.gateUp.dtype} does not fold into these experts' GEMV`);
  const S = shared ? sharedSlots(experts, shared) : 0;
  const xb = alignedBinding(ctx, x);
  const wb = alignedBinding(ctx, experts.gateUp);
  const bb = experts.gateUpBias && alignedBinding(ctx, experts.gateUpBias);
  const sb = shared && alignedBinding(ctx, shared.gateUp);
  const base = ['uniform', 'read', 'read', 'read', 'read', 'storage'] as const;
  const routeLayout = route ? (['storage', 'storage'] as const) : [];
  ctx.dispatch(
    {
      shader: 'moeDecodeGateUp',
      defines: {
        [define(experts.gateUp.dtype)]: true,
        Q8_OUT: q8Out,
        ACT_GELU: fn === 'gelu_tanh',
        ACT_CLAMP: !!clamp,
        L,
        XB: H / 32,
        ROUTE: !!route,
        SHARED: !!shared,
      },
      layout: [...base, ...routeLayout, ...(sb ? (['read'] as const) : [])],
    },
    [xb.binding, route ? route.logits : ids, wb.binding, bb?.binding ?? ctx.unused, act, ...(route ? [ids, route.weights] : []), ...(sb ? [sb.binding] : [])],
    [Math.ceil(I / 32), T * (k + S)],
    params()
      .u32(k)
      .u32(H)
      .u32(I)
      .u32(byteSizeOf(experts.gateUp.dtype, H))
      .u32(wb.byteOffset)
      .u32(bb ? 1 : 0)
      .u32(bb ? bb.byteOffset / 4 : 0)
      .u32(xb.byteOffset / 16)
      .u32(T * (k + S) * (I / 32) * 8)
      .f32(clamp?.limit ?? 0)
      .f32(clamp?.alpha ?? 0)
      .u32(E)
      .u32(route?.mode ?? 0)
      .f32(route?.scale ?? 1)
      .u32(T * k)
      .u32(S)
      .u32(sb?.byteOffset ?? 0),
  );
}

/**
 * out[t, H] (+)= Σ_j weights[t, j] · (down_e · act[t*k + j] + b), e = ids[t, j], act as moeDecodeGateUp
 * writes it with q8Out; with `shared` (down [1, H, S*I], as moeDecodeGateUp took it) + the shared expert's
 * down · act of its S slots.
 */
export function moeDecodeDown(
  ctx: GpuContext,
  act: Binding,
  ids: Tensor,
  weights: Tensor,
  experts: MoeExpertWeights,
  out: Tensor,
  accumulate: boolean,
  shared?: MoeExpertWeights,
): void {
  const [, H, I] = experts.down.shape as [number, number, number];
  const [T, k] = ids.shape as [number, number];
  if (k > 64) throw new InvalidArgumentError(`moeDecodeDown: at most 64 experts per token, got ${k}`);
  const o = ctx.kernelOverrides?.moeDecode;
  const L = o?.downLanes ?? MOE_DECODE_DOWN_LANES;
  const R = o?.downRows ?? MOE_DECODE_DOWN_ROWS;
  const U = o?.downUnits ?? MOE_DECODE_DOWN_UNITS;
  if (![8, 16, 32, 64].includes(L) || !(R >= 1 && R <= 8) || !(U >= 1 && U * R <= 8)) {
    throw new InvalidArgumentError(`moeDecodeDown: ${L} lanes x ${R} rows per group, ${U} units per step (U * R at most 8)`);
  }
  if (shared && !moeDecodeSharedFits(ctx, experts, shared, k, false))
    throw new InvalidArgumentError(`moeDecodeDown: a shared expert [${shared.down.shape}] ${shared.down.dtype} does not fold into these experts' GEMV`);
  const S = shared ? sharedSlots(experts, shared) : 0;
  const wb = alignedBinding(ctx, experts.down);
  const bb = experts.downBias && alignedBinding(ctx, experts.downBias);
  const ob = alignedBinding(ctx, out);
  const sb = shared && alignedBinding(ctx, shared.down);
  const rowsPerWg = (256 / L) * R;
  ctx.dispatch(
    {
      shader: 'moeDecodeDown',
      defines: { [define(experts.down.dtype)]: true, L, R, U, SHARED: !!shared },
      layout: ['uniform', 'read', 'read', 'read', 'read', 'read', 'storage', ...(sb ? (['read'] as const) : [])],
    },
    [act, ids, weights, wb.binding, bb?.binding ?? ctx.unused, ob.binding, ...(sb ? [sb.binding] : [])],
    [Math.ceil(H / rowsPerWg), T],
    params()
      .u32(k)
      .u32(H)
      .u32(I)
      .u32(byteSizeOf(experts.down.dtype, I))
      .u32(wb.byteOffset)
      .u32(bb ? 1 : 0)
      .u32(bb ? bb.byteOffset / 4 : 0)
      .u32((T * (k + S) * (I / 32) * 8) / 4)
      .u32(ob.byteOffset / 4)
      .u32(accumulate ? 1 : 0)
      .u32(T * k)
      .u32(S)
      .u32(sb?.byteOffset ?? 0)
      .u32(shared ? byteSizeOf(shared.down.dtype, S * I) : 0),
  );
}
