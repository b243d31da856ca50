import type { GpuContext } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import type { MoeWeights } from '../layers/moe.js';
import { loadMatrix, readF32, type MatrixPart } from '../weights/loadTensors.js';
import type { WeightSource } from '../weights/source.js';
import type { ModelConfig } from './config.js';
import { deinterleaveBias, fusedExpertSource } from './fusedExperts.js';
import type { Loaders } from './layerLoaders.js';

/** A routed-experts block: experts stacked into [E, 2I, H] (gate rows, then up rows, per expert) and [E, H, I]. */
export async function loadMoeLayer(ctx: GpuContext, src: WeightSource, c: ModelConfig, i: number, l: Loaders): Promise<MoeWeights> {
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
    const gub = deinterleaveBias(await readF32(src, part(`${f.gateUp}_bias`, [E, 2 * I])), E, I);
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
