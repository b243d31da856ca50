import { InvalidModelError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import type { MlaWeights } from '../layers/mla.js';
import type { MoeWeights } from '../layers/moe.js';
import { loadMatrix, toF32, type MatrixPart } from '../weights/loadTensors.js';
import type { WeightSource } from '../weights/source.js';
import { deinterleaveBias, fusedExpertSource } from './fusedExperts.js';
import type { MoeModelConfig } from './moeFields.js';
import type { LoadDType } from './types.js';

/** The loaders of buildModel: a matrix in the requested dtype (parts fused by rows), a vector in f32. */
export interface Loaders {
  matrix(parts: MatrixPart[], label: string): Promise<Tensor>;
  f32(part: MatrixPart, label: string): Promise<Tensor>;
  track<T extends Tensor>(t: T): T;
  /** The requested weight dtype (for tensors rearranged at load, as gpt-oss's fused experts). */
  readonly dtype?: LoadDType;
}

/** A routed-experts block: experts stacked into [E, 2I, H] (gate rows, then up rows, per expert) and [E, H, I]. */
export async function loadMoeLayer(ctx: GpuContext, src: WeightSource, c: MoeModelConfig, i: number, l: Loaders): Promise<MoeWeights> {
  const m = c.moe!;
  const H = c.hiddenSize;
  const E = m.numExperts;
  const I = m.expertIntermediate;
  const p = `model.layers.${i}.${m.names.block}`;
  const part = (name: string, shape: number[]): MatrixPart => ({ name: `${p}.${name}`, shape });
  let gateUpParts: MatrixPart[] = [];
  let downParts: MatrixPart[] = [];
  if (m.names.stacked) {
    gateUpParts = [part(m.names.stacked.gateUp, [E * 2 * I, H])];
    downParts = [part(m.names.stacked.down, [E * H, I])];
  } else if (!m.names.fused) for (let e = 0; e < E; e++) {
    gateUpParts.push(part(`experts.${e}.${m.names.gate}.weight`, [I, H]), part(`experts.${e}.${m.names.up}.weight`, [I, H]));
    downParts.push(part(`experts.${e}.${m.names.down}.weight`, [H, I]));
  }
  let gateUp: Tensor, down: Tensor;
  let gateUpBias: Tensor | undefined, downBias: Tensor | undefined;
  if (m.names.fused) {
    const f = m.names.fused;
    const fused = fusedExpertSource(src, p, f, E, H, I);
    const experts = (what: string, shape: number[]) => Array.from({ length: E }, (_, e) => ({ name: `${p}.${what}.${e}`, shape }));
    gateUp = l.track(await loadMatrix(ctx, fused, experts('gate_up', [2 * I, H]), l.dtype ?? 'auto', `l${i}.experts.gate_up`));
    down = l.track(await loadMatrix(ctx, fused, experts('down', [H, I]), l.dtype ?? 'auto', `l${i}.experts.down`));
    const rawBias = await readF32(src, `${p}.${f.gateUp}_bias`);
    if (rawBias.length !== E * 2 * I) throw new InvalidModelError(`tensor ${p}.${f.gateUp}_bias does not hold [${E}, ${2 * I}]`);
    const gub = deinterleaveBias(rawBias, E, I);
    gateUpBias = l.track(ctx.upload(gub, [E, 2 * I], 'f32', `l${i}.experts.gate_up.bias`));
    downBias = await l.f32(part(`${f.down}_bias`, [E, H]), `l${i}.experts.down.bias`);
  } else {
    gateUp = await l.matrix(gateUpParts, `l${i}.experts.gate_up`);
    down = await l.matrix(downParts, `l${i}.experts.down`);
  }
  const biasName = `${p}.${m.names.router}.e_score_correction_bias`;
  let shared: MoeWeights['shared'];
  let sharedGate: Tensor | undefined;
  if (m.names.shared && m.sharedIntermediate) {
    const Is = m.sharedIntermediate;
    const s = `${m.names.shared}`;
    const gu = await l.matrix([part(`${s}.${m.names.gate}.weight`, [Is, H]), part(`${s}.${m.names.up}.weight`, [Is, H])], `l${i}.shared.gate_up`);
    const d = await l.matrix([part(`${s}.${m.names.down}.weight`, [H, Is])], `l${i}.shared.down`);
    shared = { gateUp: ctx.view(gu, [1, 2 * Is, H]), down: ctx.view(d, [1, H, Is]) };
    if (m.names.sharedGate) sharedGate = await l.f32(part(`${m.names.sharedGate}.weight`, [1, H]), `l${i}.shared.gate`);
  }
  return {
    router: await l.f32(part(`${m.names.router}.weight`, [E, H]), `l${i}.router`),
    routerBias: src.tensors.has(`${p}.${m.names.router}.bias`) ? await l.f32(part(`${m.names.router}.bias`, [E]), `l${i}.router.bias`) : undefined,
    correctionBias: src.tensors.has(biasName) ? await l.f32({ name: biasName, shape: [E] }, `l${i}.correction_bias`) : undefined,
    experts: { gateUp: ctx.view(gateUp, [E, 2 * I, H]), down: ctx.view(down, [E, H, I]), gateUpBias, downBias },
    shared,
    sharedGate,
  };
}

async function readF32(src: WeightSource, name: string): Promise<Float32Array> {
  const info = src.tensors.get(name);
  if (!info) throw new InvalidModelError(`tensor ${name} is missing from the checkpoint`);
  return toF32(await src.read(name), info.dtype, info.shape.reduce((a, b) => a * b, 1));
}

/**
 * MLA weights, split for the absorbed form: q rows into no-rope and rope parts of every head, kv_b_proj
 * into W_uk [nH, nope, R] and W_uv [nH, v, R]. The split tensors are f32 (they are small).
 */
export async function loadMlaLayer(ctx: GpuContext, src: WeightSource, c: MoeModelConfig, i: number, l: Loaders): Promise<MlaWeights> {
  const d = c.mla!;
  const H = c.hiddenSize;
  const { numHeads: nH, kvLoraRank: R, nopeDim: nope, ropeDim: P, vDim: v } = d;
  const p = `model.layers.${i}.self_attn`;
  const qIn = d.qLoraRank ?? H;
  const qName = d.qLoraRank ? `${p}.q_b_proj.weight` : `${p}.q_proj.weight`;
  const q = await readF32(src, qName);
  if (q.length !== nH * (nope + P) * qIn) throw new InvalidModelError(`tensor ${qName} does not hold [${nH * (nope + P)}, ${qIn}]`);
  const qNope = new Float32Array(nH * nope * qIn);
  const qPe = new Float32Array(nH * P * qIn);
  for (let h = 0; h < nH; h++) {
    const base = h * (nope + P) * qIn;
    qNope.set(q.subarray(base, base + nope * qIn), h * nope * qIn);
    qPe.set(q.subarray(base + nope * qIn, base + (nope + P) * qIn), h * P * qIn);
  }
  const kvb = await readF32(src, `${p}.kv_b_proj.weight`);
  if (kvb.length !== nH * (nope + v) * R) throw new InvalidModelError(`tensor ${p}.kv_b_proj.weight does not hold [${nH * (nope + v)}, ${R}]`);
  const wUk = new Float32Array(nH * nope * R);
  const wUv = new Float32Array(nH * v * R);
  for (let h = 0; h < nH; h++) {
    const base = h * (nope + v) * R;
    wUk.set(kvb.subarray(base, base + nope * R), h * nope * R);
    wUv.set(kvb.subarray(base + nope * R, base + (nope + v) * R), h * v * R);
  }
  const up = (data: Float32Array, shape: number[], label: string) => l.track(ctx.upload(data, shape, 'f32', label));
  const part = (name: string, shape: number[]): MatrixPart => ({ name: `${p}.${name}`, shape });
  return {
    qA: d.qLoraRank ? await l.matrix([part('q_a_proj.weight', [d.qLoraRank, H])], `l${i}.q_a`) : undefined,
    qANorm: d.qLoraRank ? await l.f32(part('q_a_layernorm.weight', [d.qLoraRank]), `l${i}.q_a_norm`) : undefined,
    qNope: up(qNope, [nH * nope, qIn], `l${i}.q_nope`),
    qPe: up(qPe, [nH * P, qIn], `l${i}.q_pe`),
    kvA: await l.matrix([part('kv_a_proj_with_mqa.weight', [R + P, H])], `l${i}.kv_a`),
    kvANorm: await l.f32(part('kv_a_layernorm.weight', [R]), `l${i}.kv_a_norm`),
    wUk: up(wUk, [nH, nope, R], `l${i}.w_uk`),
    wUv: up(wUv, [nH, v, R], `l${i}.w_uv`),
    o: await l.matrix([part('o_proj.weight', [H, nH * v])], `l${i}.o`),
  };
}
