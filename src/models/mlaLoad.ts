import type { GpuContext } from '../gpu/context.js';
import { tensorBytes, type Tensor } from '../gpu/tensor.js';
import type { MlaWeights } from '../layers/mla.js';
import { loadMatrix, readF32, type MatrixPart } from '../weights/loadTensors.js';
import type { WeightSource } from '../weights/source.js';
import type { ModelConfig } from './config.js';
import type { Loaders } from './layerLoaders.js';

/**
 * Rows of a per-head weight [heads * (a + b), cols] split into its first a rows of every head,
 * [heads * a, cols], and its last b rows, [heads * b, cols].
 */
export function splitHeads(w: Float32Array, heads: number, a: number, b: number, cols: number): [Float32Array, Float32Array] {
  const first = new Float32Array(heads * a * cols);
  const second = new Float32Array(heads * b * cols);
  for (let h = 0; h < heads; h++) {
    const base = h * (a + b) * cols;
    first.set(w.subarray(base, base + a * cols), h * a * cols);
    second.set(w.subarray(base + a * cols, base + (a + b) * cols), h * b * cols);
  }
  return [first, second];
}

/** Each head's [rows, cols] matrix of w [heads, rows, cols] transposed: [heads, cols, rows]. */
export function transposeHeads(w: Float32Array, heads: number, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    const base = h * rows * cols;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[base + c * rows + r] = w[base + r * cols + c]!;
  }
  return out;
}

/**
 * MLA weights for the absorbed form: q (q_proj or q_b_proj) as stored, kv_b_proj split into W_uk, stored
 * transposed as [nH, R, nope], and W_uv [nH, v, R], so that both absorbed products are row dots along a
 * contiguous axis. The split tensors are f32 (they are small).
 */
export async function loadMlaLayer(ctx: GpuContext, src: WeightSource, c: ModelConfig, i: number, l: Loaders): Promise<MlaWeights> {
  const d = c.mla!;
  const H = c.hiddenSize;
  const { numHeads: nH, kvLoraRank: R, nopeDim: nope, ropeDim: P, vDim: v } = d;
  const p = `model.layers.${i}.self_attn`;
  const qIn = d.qLoraRank ?? H;
  const qName = d.qLoraRank ? 'q_b_proj.weight' : 'q_proj.weight';
  const kvb = await readF32(src, { name: `${p}.kv_b_proj.weight`, shape: [nH * (nope + v), R] });
  const [wUk, wUv] = splitHeads(kvb, nH, nope, v, R);
  const up = (data: Float32Array, shape: number[], label: string) => l.track(ctx.upload(data, shape, 'f32', label));
  const part = (name: string, shape: number[]): MatrixPart => ({ name: `${p}.${name}`, shape });
  // The two projections of x (q_a_proj or q_proj, and kv_a_proj_with_mqa) fused by rows where they are stored
  // alike: one GEMV at decode, row views of it for a prefill chunk.
  const first = d.qLoraRank ? part('q_a_proj.weight', [d.qLoraRank, H]) : part(qName, [nH * (nope + P), H]);
  const kvAPart = part('kv_a_proj_with_mqa.weight', [R + P, H]);
  const N1 = first.shape[0]!;
  let xProj: Tensor | undefined;
  let firstW: Tensor;
  let kvA: Tensor;
  if (src.tensors.get(first.name)?.dtype === src.tensors.get(kvAPart.name)?.dtype) {
    xProj = await l.matrix([first, kvAPart], `l${i}.x_proj`);
    firstW = ctx.view(xProj, [N1, H]);
    kvA = ctx.view(xProj, [R + P, H], N1 * (tensorBytes(xProj) / (N1 + R + P)));
  } else {
    firstW = await l.matrix([first], `l${i}.${d.qLoraRank ? 'q_a' : 'q'}`);
    kvA = await l.matrix([kvAPart], `l${i}.kv_a`);
  }
  return {
    xProj,
    qA: d.qLoraRank ? firstW : undefined,
    qANorm: d.qLoraRank ? await l.f32(part('q_a_layernorm.weight', [d.qLoraRank]), `l${i}.q_a_norm`) : undefined,
    q: d.qLoraRank ? await l.matrix([part(qName, [nH * (nope + P), qIn])], `l${i}.q`) : firstW,
    kvA,
    kvANorm: await l.f32(part('kv_a_layernorm.weight', [R]), `l${i}.kv_a_norm`),
    wUkT: up(transposeHeads(wUk, nH, nope, R), [nH, R, nope], `l${i}.w_uk_t`),
    wUv: up(wUv, [nH, v, R], `l${i}.w_uv`),
    kvB: await loadKvB(ctx, src, part('kv_b_proj.weight', [nH * (nope + v), R]), l, `l${i}.kv_b`),
    o: await l.matrix([part('o_proj.weight', [H, nH * v])], `l${i}.o`),
  };
}

/**
 * kv_b_proj for the naive prefill's GEMM: as stored, but Q8_0 where it is stored f32 and the dtype is 'auto'
 * (a GGUF's split attn_k_b / attn_v_b are rebuilt as f32 by the reader), so that the GEMM takes the integer
 * path as the file's other projections do.
 */
async function loadKvB(ctx: GpuContext, src: WeightSource, p: MatrixPart, l: Loaders, label: string): Promise<Tensor> {
  if (src.tensors.get(p.name)?.dtype === 'f32' && (l.dtype ?? 'auto') === 'auto') return l.track(await loadMatrix(ctx, src, [p], 'q8_0', label));
  return l.matrix([p], label);
}
