// The MoE prefill sweep of the kernel lab (bench/kernelLab.ts --gemm --moe): moeExperts' grouped path, f32 or
// integer-dot tiles, on the expert shapes of real models with random routing, against the f32 FMA and int8 dot4 peaks.
import type { GpuContext } from '../src/gpu/context.js';
import { byteSizeOf, type DType } from '../src/gpu/tensor.js';
import { gemmTileName, gemmTileProblem, parseGemmTile } from '../src/kernels/matmulInt8.js';
import { moeExperts } from '../src/kernels/moe.js';
import { moeGemmInt8Tile, moeInt8Plan } from '../src/kernels/moeGemmInt8.js';
import { activate } from '../src/kernels/ref/moe.js';
import { dequantize } from '../src/weights/quant/index.js';
import type { Args } from './kernelLabArgs.js';
import { arithmeticPeaks, type Peak } from './kernelLabRoofline.js';
import { chosen, fmt, timeBoth, warmClocks, type KernelTimer } from './kernelLabTiming.js';
import { randomBlocks, randomRouting } from './labRandom.js';

/** MoE expert shapes (one layer's routed experts; DeepSeek-V2-Lite's 2 shared experts run as one expert of 2 x 1408). */
const MOE_SHAPES = [
  { model: 'Qwen3-30B-A3B', name: 'experts', H: 2048, I: 768, E: 128, k: 8, layers: 48 },
  { model: 'DeepSeek-V2-Lite', name: 'experts', H: 2048, I: 1408, E: 64, k: 6, layers: 26 },
  { model: 'DeepSeek-V2-Lite', name: 'shared', H: 2048, I: 2816, E: 1, k: 1, layers: 26 },
];
const MOE_QUICK_SHAPES = [{ model: 'quick', name: 'experts', H: 256, I: 256, E: 4, k: 2, layers: 1 }];

/**
 * grouped: the f32 grouped kernels; int8: the integer-dot grouped GEMMs (default tile, over the work list);
 * int8grid: the same over the grid of every expert's row tiles; a tile name (+ "grid"): that tile.
 */
function setMoeVariant(ctx: GpuContext, v: string): void {
  const grid = v.endsWith('grid');
  const t = grid ? v.slice(0, -4) : v;
  const tile = t === 'grouped' || t === 'int8' ? undefined : parseGemmTile(t);
  ctx.kernelOverrides = { moeGemm: { use: v !== 'grouped', ...(grid ? { worklist: false } : {}), ...(tile ? { tile } : {}) } };
}

export interface MoeRow {
  model: string;
  shape: string;
  dtype: DType;
  T: number;
  H: number;
  I: number;
  E: number;
  k: number;
  /** The --variants entry, and what ran: the tile (or f32) of gate|up / down. */
  arg: string;
  variant: string;
  usPerCall: number;
  usKernel: number | null;
  tflops: number;
  ofFmaPeak: number;
  ofDot4Peak: number;
  /** Largest |gpu - ref| / max |ref| over the checked tokens' output rows. */
  maxRelErr: number;
  calls: number;
}

/**
 * Times moeExperts (the grouped prefill path) on random weights and routing, per dtype, shape, T and variant;
 * each variant is first checked on 3 tokens' output rows against the CPU reference over the dequantized
 * experts: within 1e-3 of the row's largest value for grouped (f32), 5e-2 for int8 (int8 activations twice).
 */
export async function moeLab(ctx: GpuContext, timer: KernelTimer | undefined, args: Args): Promise<{ peak: Peak; moeRows: MoeRow[] }> {
  console.log(
    timer
      ? 'timing: us b2b = wall clock / calls back to back in one pass; us kernel = GPU timestamps, one call per pass, median; TFLOP/s from us kernel'
      : 'timing: wall clock only (no usable timestamps); TFLOP/s from us b2b',
  );
  const peak = await arithmeticPeaks(ctx, timer, args.quick);
  console.log(`peaks: f32 FMA ${peak.fmaTflops.toFixed(2)} TFLOP/s, int8 dot4 ${peak.dot4Tops.toFixed(2)} TOPS`);
  const shapes = args.quick ? MOE_QUICK_SHAPES : MOE_SHAPES;
  const Ts = args.ts ?? (args.quick ? [17] : [512, 4096]);
  const variants = args.variantsGiven ? args.variants : ['grouped', 'int8'];
  const rows: MoeRow[] = [];
  console.log('dtype     T     H     I    E  k variant                          us b2b  us kernel   TFLOP/s   %fma  %dot4  max rel err  calls  model shape');
  for (const dtype of args.dtypes) {
    for (const { model, name, H, I, E, k } of shapes) {
      const guBytes = randomBlocks(dtype, E * 2 * I * H, H + I + E);
      const dnBytes = randomBlocks(dtype, E * H * I, H + 2 * I + E);
      const experts = {
        gateUp: ctx.upload(guBytes, [E, 2 * I, H], dtype, `moe gateUp ${dtype}`),
        down: ctx.upload(dnBytes, [E, H, I], dtype, `moe down ${dtype}`),
      };
      const dq = new Map<number, { gu: Float32Array; dn: Float32Array }>();
      const expert = (e: number) => {
        let d = dq.get(e);
        if (!d) {
          const gb = byteSizeOf(dtype, 2 * I * H);
          const db = byteSizeOf(dtype, H * I);
          d = {
            gu: dequantize(guBytes.subarray(e * gb, (e + 1) * gb), dtype, 2 * I * H),
            dn: dequantize(dnBytes.subarray(e * db, (e + 1) * db), dtype, H * I),
          };
          dq.set(e, d);
        }
        return d;
      };
      for (const T of Ts) {
        const x = Float32Array.from({ length: T * H }, (_, i) => Math.sin(i * 0.37) + 0.1);
        const route = randomRouting(T, E, k, T + E);
        const xt = ctx.upload(x, [T, H], 'f32');
        const ids = ctx.upload(route.ids, [T, k], 'u32');
        const wts = ctx.upload(route.weights, [T, k], 'f32');
        const out = ctx.createTensor([T, H], 'f32');
        const call = () => moeExperts(ctx, xt, ids, wts, experts, out, 'silu', { path: 'grouped' });
        for (const variant of variants) {
          setMoeVariant(ctx, variant);
          const tile = ctx.kernelOverrides?.moeGemm?.tile;
          const problem = tile && gemmTileProblem(ctx, tile, dtype);
          if (problem) {
            console.log(`${dtype.padEnd(5)} ${String(T).padStart(5)} ${variant} skipped: ${problem}`);
            continue;
          }
          const plan = moeInt8Plan(ctx, experts, T);
          const how = ctx.kernelOverrides?.moeGemm?.worklist === false ? ' grid' : ' list';
          const label =
            variant === 'grouped'
              ? 'grouped(f32)'
              : `${plan.gateUp ? gemmTileName(moeGemmInt8Tile(ctx)) : 'f32'}/${plan.down ? gemmTileName(moeGemmInt8Tile(ctx)) : 'f32'}${how}`;
          call();
          const got = await ctx.readF32(out);
          let err = 0;
          for (const t of new Set([0, T >> 1, T - 1])) {
            const ref = new Float64Array(H);
            for (let j = 0; j < k; j++) {
              const e = route.ids[t * k + j]!;
              const { gu, dn } = expert(e);
              const a = new Float64Array(I);
              for (let i = 0; i < I; i++) {
                let g = 0;
                let u = 0;
                for (let h = 0; h < H; h++) {
                  g += gu[i * H + h]! * x[t * H + h]!;
                  u += gu[(I + i) * H + h]! * x[t * H + h]!;
                }
                a[i] = activate(g, u, 'silu');
              }
              for (let h = 0; h < H; h++) {
                let v = 0;
                for (let i = 0; i < I; i++) v += dn[h * I + i]! * a[i]!;
                ref[h] = ref[h]! + route.weights[t * k + j]! * v;
              }
            }
            const scale = Math.max(...Array.from(ref, Math.abs)) + 1e-30;
            for (let h = 0; h < H; h++) err = Math.max(err, Math.abs(got[t * H + h]! - ref[h]!) / scale);
          }
          if (!(err < (variant === 'grouped' ? 1e-3 : 5e-2)))
            throw new Error(`${dtype} ${model} ${name} T=${T} ${variant}: GPU and CPU reference differ (relative ${err})`);
          const t0 = performance.now();
          call();
          await ctx.sync();
          const one = (performance.now() - t0) / 1000;
          const calls = Math.max(2, Math.min(args.iters, Math.ceil(0.1 / one)));
          await warmClocks(ctx);
          const t = await timeBoth(ctx, timer, call, calls);
          const sec = chosen(t);
          const tflops = (2 * T * k * 3 * I * H) / sec / 1e12;
          const r: MoeRow = {
            model,
            shape: name,
            dtype,
            T,
            H,
            I,
            E,
            k,
            arg: variant,
            variant: label,
            usPerCall: t.b2b * 1e6,
            usKernel: t.kernel === undefined ? null : t.kernel * 1e6,
            tflops,
            ofFmaPeak: tflops / peak.fmaTflops,
            ofDot4Peak: tflops / peak.dot4Tops,
            maxRelErr: err,
            calls,
          };
          rows.push(r);
          console.log(
            `${dtype.padEnd(5)} ${String(T).padStart(5)} ${String(H).padStart(5)} ${String(I).padStart(5)} ${String(E).padStart(4)} ${String(k).padStart(2)} ${label.padEnd(30)} ${fmt(r.usPerCall, 1, 9)} ${fmt(r.usKernel, 1, 10)} ${fmt(tflops, 2, 9)} ${fmt(100 * r.ofFmaPeak, 1, 6)} ${fmt(100 * r.ofDot4Peak, 1, 6)}` +
              `     ${err.toExponential(2)} ${String(calls).padStart(6)}  ${model} ${name}`,
          );
        }
        for (const b of [xt, ids, wts, out]) ctx.destroyBuffer(b.buffer);
      }
      ctx.destroyBuffer(experts.gateUp.buffer);
      ctx.destroyBuffer(experts.down.buffer);
    }
  }
  // Per model, dtype, T and variant: one layer's expert calls, and all MoE layers' as tokens per second.
  console.log('per layer (experts only)   model              dtype     T variant                     us/layer  TFLOP/s  experts-only prefill tok/s');
  const byKey = new Map<string, MoeRow[]>();
  for (const r of rows) {
    const key = `${r.model}|${r.dtype}|${r.T}|${r.arg}`;
    byKey.set(key, [...(byKey.get(key) ?? []), r]);
  }
  for (const [key, rs] of byKey) {
    const [model, dtype, T, variant] = key.split('|') as [string, string, string, string];
    const us = rs.reduce((a, r) => a + (r.usKernel ?? r.usPerCall), 0);
    const flop = rs.reduce((a, r) => a + 2 * r.T * r.k * 3 * r.I * r.H, 0);
    const layers = MOE_SHAPES.find((m) => m.model === model)?.layers ?? 1;
    console.log(
      `per layer                  ${model.padEnd(18)} ${dtype.padEnd(5)} ${T.padStart(5)} ${variant.padEnd(26)} ${fmt(us, 1, 10)} ${fmt(flop / us / 1e6, 2, 8)} ${fmt(Number(T) / ((us * layers) / 1e6), 0, 12)}`,
    );
  }
  ctx.kernelOverrides = undefined;
  return { peak, moeRows: rows };
}
