import { InvalidArgumentError, UnsupportedModelError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import { byteSizeOf, tensorBytes, type DType, type Tensor } from '../gpu/tensor.js';
import { maxBinding } from './binding.js';
import { weightDefine } from './weights.js';
import { MOE_DECODE_ROUTE_MAX_EXPERTS, moeDecodeActBytes, moeDecodeDown, moeDecodeGateUp, moeDecodePlan, moeDecodeSharedFits } from './moeDecode.js';
import { moeDownInt8, moeGateUpInt8, moeInt8Plan, moeInt8Work, releaseMoeInt8Work } from './moeGemmInt8.js';
import type { MoeActivation, MoeExpertWeights } from './moeTypes.js';

/** How router logits become expert weights (see shaders/moeRoute.wgsl). */
export interface MoeRouteOptions {
  readonly topK: number;
  /** softmax over all experts (mixtral, qwen*_moe, olmoe) or sigmoid per expert (deepseek_v3). */
  readonly scoring: 'softmax' | 'sigmoid';
  /** [E] f32, added to the scores for selection only (deepseek_v3's e_score_correction_bias). */
  readonly correctionBias?: Tensor;
  /** Group-limited routing: nGroup groups, the topkGroup best (by the sum of their top-2 keys) kept. */
  readonly nGroup?: number;
  readonly topkGroup?: number;
  /** Renormalise the k weights to sum 1. */
  readonly normTopK: boolean;
  /** Multiplies the final weights (routed_scaling_factor). */
  readonly scale: number;
  /** Top-k over the raw logits, then softmax over the k values (granitemoe, gpt_oss). */
  readonly softmaxAfterTopK?: boolean;
}

const MAX_EXPERTS = 1024;
const MAX_TOP_K = 64;

/** ids[T, k] u32 and weights[T, k] f32 from router logits[T, E] f32, on the GPU. */
export function moeRoute(ctx: GpuContext, logits: Tensor, ids: Tensor, weights: Tensor, o: MoeRouteOptions): void {
  const [T, E] = logits.shape as [number, number];
  const k = o.topK;
  if (logits.dtype !== 'f32' || logits.shape.length !== 2)
    throw new InvalidArgumentError(`moeRoute: logits must be [T, E] f32, got [${logits.shape}] ${logits.dtype}`);
  if (E > MAX_EXPERTS) throw new UnsupportedModelError(`moeRoute: ${E} experts; at most ${MAX_EXPERTS} are supported`);
  if (!(k >= 1 && k <= Math.min(E, MAX_TOP_K))) throw new InvalidArgumentError(`moeRoute: topK ${k} must be in 1..${Math.min(E, MAX_TOP_K)}`);
  expectShape('moeRoute ids', ids, [T, k], 'u32');
  expectShape('moeRoute weights', weights, [T, k], 'f32');
  if (o.correctionBias) expectShape('moeRoute correctionBias', o.correctionBias, [E], 'f32');
  const nGroup = o.nGroup ?? 1;
  const topkGroup = o.topkGroup ?? nGroup;
  if (nGroup < 1 || nGroup > 64 || E % nGroup !== 0 || topkGroup < 1 || topkGroup > nGroup) {
    throw new InvalidArgumentError(`moeRoute: nGroup ${nGroup} must divide ${E} experts (at most 64 groups) and topkGroup ${topkGroup} be in 1..nGroup`);
  }
  if (nGroup > 1 && k > (topkGroup * E) / nGroup) throw new InvalidArgumentError(`moeRoute: topK ${k} exceeds the experts of ${topkGroup} groups`);
  // A softmax renormalised over the top k is the softmax of the top-k logits (the full denominator cancels):
  // mode 2 then, which needs no reduction over the experts.
  const renormSoftmax = o.scoring === 'softmax' && o.normTopK && !o.correctionBias && nGroup === 1;
  const mode = o.softmaxAfterTopK || renormSoftmax ? 2 : o.scoring === 'sigmoid' ? 1 : 0;
  ctx.dispatch(
    { shader: 'moeRoute', layout: ['uniform', 'read', 'read', 'storage', 'storage'] },
    [logits, o.correctionBias ?? ctx.unused, ids, weights],
    [T],
    params()
      .u32(T)
      .u32(E)
      .u32(k)
      .u32(mode)
      .u32(o.normTopK ? 1 : 0)
      .u32(o.correctionBias ? 1 : 0)
      .u32(nGroup)
      .u32(topkGroup)
      .f32(o.scale),
  );
}

export type { MoeActivation, MoeExpertWeights };

export interface MoeExpertsOptions {
  /** gpt-oss's clamped SwiGLU: min(g, limit)·σ(alpha·g)·(clamp(u, ±limit) + 1); act must be 'silu'. */
  readonly clamp?: { readonly limit: number; readonly alpha: number };
  /** Add to `out` instead of overwriting it (a shared expert computed first). */
  readonly accumulate?: boolean;
  /**
   * 'pairs': per (token, slot) GEMVs (decode; on integer dot products where moeDecodePlan allows);
   * 'grouped': per-expert token tiles (prefill).
   */
  readonly path?: 'auto' | 'pairs' | 'grouped';
  /**
   * ids and weights are outputs, routed from these router logits [T, E] as moeRoute routes them: inside the
   * integer-dot decode gate|up GEMV where the router allows (`gateUpRouteMode`), else by moeRoute first.
   */
  readonly route?: { readonly logits: Tensor; readonly options: MoeRouteOptions };
  /**
   * A shared expert (gateUp [1, 2Is, H], down [1, H, Is]) added with weight 1 to every token, folded into
   * the routed experts' two decode GEMVs; only where moeFoldsShared says so.
   */
  readonly shared?: MoeExpertWeights;
}

const PAIRS_MAX_TOKENS = 4;

const pathOf = (opts: MoeExpertsOptions, T: number) => (opts.path && opts.path !== 'auto' ? opts.path : T <= PAIRS_MAX_TOKENS ? 'pairs' : 'grouped');

/**
 * Whether moeExperts takes `shared` for these routed experts and options: in the integer-dot decode GEMVs,
 * both halves (moeDecodePlan), the stacks in one binding, no clamp, and moeDecodeSharedFits (the shared
 * expert as S = Is / I more slots of the routed width, its dtypes, no biases, the binding count, with the
 * gate|up's own routing where it takes it). ctx.kernelOverrides.moeDecode.foldShared false: never.
 * Otherwise the caller runs the shared expert as an expert of its own.
 */
export function moeFoldsShared(
  ctx: GpuContext,
  x: Tensor,
  k: number,
  experts: MoeExpertWeights,
  shared: MoeExpertWeights,
  opts: Omit<MoeExpertsOptions, 'shared'> = {},
): boolean {
  if (ctx.kernelOverrides?.moeDecode?.foldShared === false || opts.clamp || pathOf(opts, x.shape[0]!) !== 'pairs') return false;
  const E = experts.gateUp.shape[0]!;
  const plan = moeDecodePlan(ctx, x, experts);
  if (!plan.gateUp || !plan.down || expertGroups(ctx, experts, E) !== 1) return false;
  const route = !!opts.route && gateUpRouteMode(opts.route.options, opts.route.logits.shape[1]!) !== undefined;
  return moeDecodeSharedFits(ctx, experts, shared, k, route);
}

/** The gate|up GEMV's own routing mode for these options (shaders/moeDecodeGateUp.wgsl ROUTE), or undefined. */
function gateUpRouteMode(o: MoeRouteOptions, E: number): 0 | 2 | undefined {
  if (o.correctionBias || (o.nGroup ?? 1) > 1 || E > MOE_DECODE_ROUTE_MAX_EXPERTS || o.topK > 64) return undefined;
  if (o.softmaxAfterTopK) return 2;
  if (o.scoring !== 'softmax') return undefined;
  return o.normTopK ? 2 : 0;
}

/**
 * out[T, H] = Σ_j weights[t, j] · expert_{ids[t, j]}(x[t]) where expert(x) = down · (act(gate · x) * (up · x)).
 * Reads only the selected experts' rows; routing is read on the GPU, never on the CPU.
 */
export function moeExperts(
  ctx: GpuContext,
  x: Tensor,
  ids: Tensor,
  weights: Tensor,
  experts: MoeExpertWeights,
  out: Tensor,
  act: MoeActivation,
  opts: MoeExpertsOptions = {},
): void {
  const { gateUp, down } = experts;
  const [E, I2, H] = gateUp.shape as [number, number, number];
  const I = I2 / 2;
  if (gateUp.shape.length !== 3 || I2 % 2 !== 0) throw new InvalidArgumentError(`moeExperts: gateUp must be [E, 2I, H], got [${gateUp.shape}]`);
  expectShape('moeExperts down', down, [E, H, I], down.dtype);
  const T = x.shape[0]!;
  expectShape('moeExperts x', x, [T, H], 'f32');
  const k = ids.shape[1]!;
  expectShape('moeExperts ids', ids, [T, k], 'u32');
  expectShape('moeExperts weights', weights, [T, k], 'f32');
  expectShape('moeExperts out', out, [T, H], 'f32');
  if (experts.gateUpBias) expectShape('moeExperts gateUpBias', experts.gateUpBias, [E, 2 * I], 'f32');
  if (experts.downBias) expectShape('moeExperts downBias', experts.downBias, [E, H], 'f32');
  if (opts.clamp && act !== 'silu') throw new InvalidArgumentError(`moeExperts: the clamped SwiGLU needs act 'silu', got ${act}`);
  if (T === 0) return;
  const shared = opts.shared;
  if (shared) {
    const Is = shared.gateUp.shape[1]! / 2;
    expectShape('moeExperts shared gateUp', shared.gateUp, [1, 2 * Is, H], shared.gateUp.dtype);
    expectShape('moeExperts shared down', shared.down, [1, H, Is], shared.down.dtype);
    if (!moeFoldsShared(ctx, x, k, experts, shared, opts))
      throw new InvalidArgumentError(`moeExperts: the shared expert [${shared.gateUp.shape}] ${shared.gateUp.dtype} does not fold here (moeFoldsShared)`);
  }
  const groups = expertGroups(ctx, experts, E);
  const path = pathOf(opts, T);
  const decode = path === 'pairs' && groups === 1 ? moeDecodePlan(ctx, x, experts) : { gateUp: false, down: false };
  const r = opts.route;
  const routeMode = r && decode.gateUp ? gateUpRouteMode(r.options, r.logits.shape[1]!) : undefined;
  if (r && routeMode === undefined) moeRoute(ctx, r.logits, ids, weights, r.options);
  if (groups > 1) return moeExpertsInGroups(ctx, x, ids, weights, experts, out, act, { ...opts, route: undefined }, groups);
  const gDef = expertWeightDefine(gateUp.dtype);
  const dDef = expertWeightDefine(down.dtype);
  const actDefs = { ACT_GELU: act === 'gelu_tanh', ACT_CLAMP: !!opts.clamp };
  const gateUpParams = () =>
    params()
      .u32(T)
      .u32(k)
      .u32(H)
      .u32(I)
      .u32(byteSizeOf(gateUp.dtype, H))
      .u32(experts.gateUpBias ? 1 : 0)
      .u32(T)
      .f32(opts.clamp?.limit ?? 0)
      .f32(opts.clamp?.alpha ?? 0);
  const downParams = (accumulate: boolean) =>
    params()
      .u32(T)
      .u32(k)
      .u32(H)
      .u32(I)
      .u32(byteSizeOf(down.dtype, I))
      .u32(experts.downBias ? 1 : 0)
      .u32(T)
      .u32(accumulate ? 1 : 0);
  const gateUpLayout = ['uniform', 'read', 'read', 'read', 'read', 'storage', 'read', 'read'] as const;
  const downLayout = ['uniform', 'read', 'read', 'read', 'read', 'read', 'storage', 'read', 'read'] as const;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const scratch = (bytes: number, label: string) => ({ buffer: ctx.pool.acquire(bytes, usage, label), size: bytes });
  const pairs = T * (k + (shared ? shared.gateUp.shape[1]! / I2 : 0));
  const actBuf = scratch(decode.down ? moeDecodeActBytes(pairs, I) : T * k * I * 4, 'moe.act');

  if (decode.gateUp) {
    // Integer-dot GEMVs (src/kernels/moeDecode.ts); down on them too where its rows allow, else f32 combine.
    const route = routeMode === undefined ? undefined : { logits: r!.logits, mode: routeMode, scale: r!.options.scale, weights };
    moeDecodeGateUp(ctx, x, ids, experts, actBuf, act, opts.clamp, decode.down, route, shared);
    if (decode.down) moeDecodeDown(ctx, actBuf, ids, weights, experts, out, !!opts.accumulate, shared);
    else
      ctx.dispatch(
        { shader: 'moeDown', entry: 'combine', defines: { [dDef]: true }, layout: downLayout },
        [actBuf, ids, weights, down, experts.downBias ?? ctx.unused, out, ctx.unused, ctx.unused],
        [Math.ceil(H / 4), T],
        downParams(!!opts.accumulate),
      );
    ctx.pool.release(actBuf.buffer);
    return;
  }
  if (path === 'pairs') {
    ctx.dispatch(
      { shader: 'moeGateUp', entry: 'pairs', defines: { [gDef]: true, ...actDefs }, layout: gateUpLayout },
      [x, ids, gateUp, experts.gateUpBias ?? ctx.unused, actBuf, ctx.unused, ctx.unused],
      [Math.ceil(I / 4), T * k],
      gateUpParams(),
    );
    ctx.dispatch(
      { shader: 'moeDown', entry: 'combine', defines: { [dDef]: true }, layout: downLayout },
      [actBuf, ids, weights, down, experts.downBias ?? ctx.unused, out, ctx.unused, ctx.unused],
      [Math.ceil(H / 4), T],
      downParams(!!opts.accumulate),
    );
    ctx.pool.release(actBuf.buffer);
    return;
  }

  const counts = scratch(E * 4, 'moe.counts');
  const list = scratch(E * T * 4, 'moe.list');
  const ypairs = scratch(T * k * H * 4, 'moe.ypairs');
  const bucketLayout = ['uniform', 'read', 'storage', 'storage', 'read', 'storage'] as const;
  const bucketParams = () =>
    params()
      .u32(T)
      .u32(k)
      .u32(H)
      .u32(T)
      .u32(opts.accumulate ? 1 : 0);
  ctx.dispatch(
    { shader: 'moeBucket', entry: 'bucket', layout: bucketLayout },
    [ids, counts, list, ypairs, out], // combine's bindings bound too: one layout, no aliasing
    [E],
    bucketParams(),
  );
  const tiles = Math.ceil(T / 16);
  const int8 = moeInt8Plan(ctx, experts, T); // integer-dot grouped GEMMs (src/kernels/moeGemmInt8.ts)
  const work = int8.gateUp || int8.down ? moeInt8Work(ctx, counts, E, T, k, I, H) : undefined;
  if (int8.gateUp) moeGateUpInt8(ctx, x, counts, list, experts, actBuf, T, k, act, opts.clamp, work);
  else
    ctx.dispatch(
      { shader: 'moeGateUp', entry: 'grouped', defines: { [gDef]: true, ...actDefs }, layout: gateUpLayout },
      [x, ids, gateUp, experts.gateUpBias ?? ctx.unused, actBuf, counts, list],
      [Math.ceil(I / 16), tiles, E],
      gateUpParams(),
    );
  if (int8.down) moeDownInt8(ctx, actBuf, counts, list, weights, experts, ypairs, T, k, work);
  else
    ctx.dispatch(
      { shader: 'moeDown', entry: 'grouped', defines: { [dDef]: true }, layout: downLayout },
      [actBuf, ids, weights, down, experts.downBias ?? ctx.unused, ypairs, counts, list],
      [Math.ceil(H / 16), tiles, E],
      downParams(false),
    );
  ctx.dispatch({ shader: 'moeBucket', entry: 'combine', layout: bucketLayout }, [ids, counts, list, ypairs, out], [Math.ceil((T * H) / 256)], bucketParams());
  for (const b of [actBuf, counts, list, ypairs]) ctx.pool.release(b.buffer);
  releaseMoeInt8Work(ctx, work);
}

/**
 * Experts per group so that each group's stacks fit one storage binding and start at an aligned offset
 * (1 group: the whole stack fits).
 */
function expertGroups(ctx: GpuContext, experts: MoeExpertWeights, E: number): number {
  const stacks = [experts.gateUp, experts.down, experts.gateUpBias, experts.downBias].filter((t): t is Tensor => !!t);
  const align = ctx.limits.minStorageBufferOffsetAlignment;
  const room = maxBinding(ctx) - align - 4;
  if (stacks.every((t) => tensorBytes(t) <= room)) return 1;
  const perExpert = stacks.map((t) => tensorBytes(t) / E);
  // Group starts must be aligned in every stack: a multiple of `step` experts.
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const step = perExpert.reduce((s, b) => {
    const need = align / gcd(b, align);
    return (s * need) / gcd(s, need);
  }, 1);
  const fit = Math.floor(room / Math.max(...perExpert) / step) * step;
  if (fit < 1) {
    throw new InvalidArgumentError(`moeExperts: ${step} experts of ${Math.max(...perExpert)} bytes do not fit one storage binding (${maxBinding(ctx)} bytes)`);
  }
  return Math.ceil(E / fit);
}

/**
 * moeExperts over expert stacks too large for one binding: one pass per group of experts, accumulated.
 * Correct but slower than one pass (every selection is computed in every group, with weight 0 outside it).
 */
function moeExpertsInGroups(
  ctx: GpuContext,
  x: Tensor,
  ids: Tensor,
  weights: Tensor,
  experts: MoeExpertWeights,
  out: Tensor,
  act: MoeActivation,
  opts: MoeExpertsOptions,
  groups: number,
): void {
  const E = experts.gateUp.shape[0]!;
  const per = Math.ceil(E / groups);
  const [T, k] = ids.shape as [number, number];
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const gIds: Tensor = { buffer: ctx.pool.acquire(T * k * 4, usage, 'moe.groupIds'), offset: 0, shape: [T, k], dtype: 'u32' };
  const gW: Tensor = { buffer: ctx.pool.acquire(T * k * 4, usage, 'moe.groupWeights'), offset: 0, shape: [T, k], dtype: 'f32' };
  const slice = (t: Tensor | undefined, e0: number, n: number): Tensor | undefined => t && ctx.view(t, [n, ...t.shape.slice(1)], (tensorBytes(t) / E) * e0);
  for (let g = 0, e0 = 0; e0 < E; g++, e0 += per) {
    const n = Math.min(per, E - e0);
    ctx.dispatch(
      { shader: 'moeSelect', layout: ['uniform', 'read', 'read', 'storage', 'storage'] },
      [ids, weights, gIds, gW],
      [Math.ceil((T * k) / 64)],
      params()
        .u32(T * k)
        .u32(e0)
        .u32(n),
    );
    const part: MoeExpertWeights = {
      gateUp: slice(experts.gateUp, e0, n)!,
      down: slice(experts.down, e0, n)!,
      gateUpBias: slice(experts.gateUpBias, e0, n),
      downBias: slice(experts.downBias, e0, n),
    };
    // Per-(token, slot) path: selections outside the group all point at its first expert, which the
    // grouped path's per-expert lists (T slots each) could not hold.
    moeExperts(ctx, x, gIds, gW, part, out, act, { ...opts, path: 'pairs', accumulate: opts.accumulate || g > 0 });
  }
  ctx.pool.release(gIds.buffer);
  ctx.pool.release(gW.buffer);
}

function expertWeightDefine(dtype: DType): string {
  const d = weightDefine[dtype];
  if (!d) throw new UnsupportedModelError(`moeExperts: expert weights of dtype ${dtype} are not supported`);
  return d;
}

function expectShape(what: string, t: Tensor, shape: readonly number[], dtype: DType): void {
  if (t.dtype !== dtype || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new InvalidArgumentError(`${what}: expected [${shape}] ${dtype}, got [${t.shape}] ${t.dtype}`);
  }
}
