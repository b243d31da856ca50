import { byteSizeOf, dtypeLayout, numel, type DType } from '../gpu/tensor.js';
import { alignRows } from '../layers/attention.js';
import { targetDType } from '../weights/loadTensors.js';
import type { LoadDType, WeightSource } from '../weights/source.js';
import { defaultMaxChunk } from './chunk.js';
import type { ModelConfig } from './config.js';

/** GPU bytes a model will take once loaded, by part, and its largest single buffer. */
export interface MemoryEstimate {
  readonly weightBytes: number;
  readonly kvCacheBytes: number;
  /** Activation buffers of the longest chunk, logits, ids and the pooled temporaries of a step. */
  readonly activationBytes: number;
  readonly totalBytes: number;
  /** The largest buffer the load creates (a weight or a fused pair of weights, or a KV layer). */
  readonly largestBufferBytes: number;
  readonly largestBufferName: string;
  /** The largest range a kernel binds at once (KV layers and activations; weights split past the limit). */
  readonly largestBindingBytes: number;
}

export interface EstimateOptions {
  readonly dtype?: LoadDType;
  readonly maxContext: number;
  readonly maxChunk?: number;
}

/** Fused at load into one buffer each (src/models/load.ts): their sum is one allocation. */
const FUSED: readonly (readonly string[])[] = [
  ['self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight'],
  ['mlp.gate_proj.weight', 'mlp.up_proj.weight'],
];

const QKV = /\.self_attn\.[qkv]_proj\.(weight|bias)$/;

/**
 * The bytes of one stored tensor on the GPU at load dtype `dtype`: matrices converted, vectors as f32, q / k / v
 * rows padded as the fused q|k|v takes them.
 */
function gpuBytes(name: string, stored: DType, shape: readonly number[], dtype: LoadDType): number {
  const rows = shape[0] ?? 1;
  const padded = QKV.test(name) ? (alignRows(rows) / rows) * numel(shape) : numel(shape);
  if (shape.length < 2) return padded * 4;
  const to = targetDType(stored, dtype, shape.at(-1)!);
  const { blockElems } = dtypeLayout[to];
  return padded % blockElems === 0 ? byteSizeOf(to, padded) : padded * 4;
}

/**
 * What loading `config` with the weights of `src` at `dtype` and a KV cache of `maxContext` positions will
 * allocate on the GPU, computed from the tensor list and the config alone (nothing is read or allocated).
 * Weights and the KV cache are exact up to row padding; activations are the model's buffers plus a margin
 * for the temporaries a step takes from the pool.
 */
export function estimateModelMemory(c: ModelConfig, src: WeightSource, opts: EstimateOptions): MemoryEstimate {
  const dtype = opts.dtype ?? 'auto';
  const C = Math.min(opts.maxChunk ?? defaultMaxChunk(c), opts.maxContext);
  let weightBytes = 0;
  let largestBufferBytes = 0;
  let largestBufferName = '';
  const consider = (name: string, bytes: number) => {
    if (bytes > largestBufferBytes) [largestBufferBytes, largestBufferName] = [bytes, name];
  };
  const fusedSums = new Map<string, number>();
  for (const t of src.tensors.values()) {
    const bytes = gpuBytes(t.name, t.dtype, t.shape, dtype);
    weightBytes += bytes;
    const group = FUSED.find((g) => g.some((suffix) => t.name.endsWith(suffix)));
    if (!group) {
      consider(t.name, bytes);
      continue;
    }
    const suffix = group.find((s) => t.name.endsWith(s))!;
    const key = t.name.slice(0, -suffix.length) + group.join('|');
    fusedSums.set(key, (fusedSums.get(key) ?? 0) + bytes);
  }
  for (const [name, bytes] of fusedSums) consider(name, bytes);

  // The KV cache as KvCache allocates it: f32 keys and values per layer; sliding layers a ring.
  const mla = c.mla;
  const kvHeads = mla ? 1 : c.numKvHeads;
  const kDim = mla ? mla.kvLoraRank + mla.ropeDim : c.headDim;
  const vDim = mla ? 1 : c.headDim;
  let kvCacheBytes = 0;
  let largestBindingBytes = 0;
  c.layerTypes.forEach((kind, i) => {
    const window = kind === 'sliding' ? c.slidingWindow : undefined;
    const capacity = window === undefined ? opts.maxContext : Math.min(opts.maxContext, window + C - 1);
    const k = capacity * kvHeads * kDim * 4;
    kvCacheBytes += k + capacity * kvHeads * vDim * 4;
    consider(`kv.${i}.k`, k);
    largestBindingBytes = Math.max(largestBindingBytes, k);
  });

  const H = c.hiddenSize;
  const nq = c.numHeads * c.headDim;
  const nk = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  const stride = Math.ceil(C / 64) * 64;
  const ids = 2 * Math.ceil(opts.maxContext / C) * stride * 4;
  const residual = 4 * C * H * 4;
  const attention = C * (2 * nq + 2 * nk) * 4;
  const mlp = C * 3 * I * 4;
  const logits = c.vocabSize * 4;
  // MoE prefill: each token's k expert pairs through gate|up, the activation and down (src/kernels/moe.ts's grouped path).
  const m = c.moe;
  const experts = m ? C * m.route.topK * (3 * m.expertIntermediate + H) * 4 + C * m.numExperts * 4 : 0;
  const buffers = ids + residual + attention + mlp + logits + experts;
  largestBindingBytes = Math.max(largestBindingBytes, C * 2 * I * 4, C * Math.max(nq, H) * 4);
  // Pooled temporaries (quantized activations, attention partials, readback) stay below a quarter of that.
  const activationBytes = Math.ceil(buffers * 1.25);
  return {
    weightBytes,
    kvCacheBytes,
    activationBytes,
    totalBytes: weightBytes + kvCacheBytes + activationBytes,
    largestBufferBytes,
    largestBufferName,
    largestBindingBytes,
  };
}
