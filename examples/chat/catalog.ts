// Real checkpoints that fit a browser, by Hub id, with what they take: the download (the safetensors
// as published, bf16) and the GPU memory at the dtype the user picks (weights in that dtype's GGUF blocks,
// norms in f32, and the f32 KV cache the engine allocates). Sizes are computed here from each model's
// config.json dimensions and the dtype block layouts (src/gpu/tensor.ts), not typed in; the parameter
// counts they give are checked against the counts on the model cards (comments), in the unit of each card.
import { dtypeLayout } from '../../src/gpu/tensor.js';
import type { WeightDType } from './settings.js';

/** The config.json fields that decide the size of a decoder model. */
export interface Architecture {
  readonly modelType: string;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly intermediateSize: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  readonly tiedEmbeddings: boolean;
  readonly maxPositions: number;
  /** q/k norms per head (qwen3, gemma3). */
  readonly qkNorm?: boolean;
  /** Gemma's extra norms after attention and after the MLP. */
  readonly sandwichNorms?: boolean;
  readonly qkvBias?: boolean;
  /** Layers with a sliding window (their KV cache is a ring of window + chunk - 1 slots). */
  readonly sliding?: { readonly window: number; readonly layers: number };
  /** Mixture of experts: every layer's MLP is `experts` experts of `intermediate`, `active` of them per token. */
  readonly moe?: { readonly experts: number; readonly active: number; readonly intermediate: number };
}

export interface CatalogModel {
  readonly repo: string;
  readonly title: string;
  readonly note: string;
  /** The dtype its safetensors are published in. */
  readonly storedAs: 'bf16' | 'f16' | 'f32';
  readonly arch: Architecture;
  /** A reasoning model (R1-style <think>…</think>). */
  readonly reasoning?: boolean;
  /** Needs a large GPU (shown apart). */
  readonly large?: boolean;
}

export const CATALOG: readonly CatalogModel[] = [
  {
    // Model card: 1.78B params (Qwen2.5-Math-1.5B distilled from DeepSeek-R1); config.json below.
    repo: 'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B',
    title: 'DeepSeek-R1-Distill-Qwen 1.5B',
    note: 'Reasons step by step in a Thinking block before it answers (math, code).',
    storedAs: 'bf16',
    reasoning: true,
    arch: {
      modelType: 'qwen2',
      hiddenSize: 1536,
      numLayers: 28,
      intermediateSize: 8960,
      numHeads: 12,
      numKvHeads: 2,
      headDim: 128,
      vocabSize: 151936,
      tiedEmbeddings: false,
      maxPositions: 131072,
      qkvBias: true,
    },
  },
  {
    // Model card: 0.6B parameters, 0.44B non-embedding; 28 layers, 16 Q / 8 KV heads.
    repo: 'Qwen/Qwen3-0.6B',
    title: 'Qwen3 0.6B',
    note: 'Small and quick; thinks first unless thinking is switched off in Settings.',
    storedAs: 'bf16',
    reasoning: true,
    arch: {
      modelType: 'qwen3',
      hiddenSize: 1024,
      numLayers: 28,
      intermediateSize: 3072,
      numHeads: 16,
      numKvHeads: 8,
      headDim: 128,
      vocabSize: 151936,
      tiedEmbeddings: true,
      maxPositions: 40960,
      qkNorm: true,
    },
  },
  {
    // Model card: 1.7B parameters, 1.4B non-embedding; 28 layers, 16 Q / 8 KV heads.
    repo: 'Qwen/Qwen3-1.7B',
    title: 'Qwen3 1.7B',
    note: 'A better all-round chat model; thinking on or off.',
    storedAs: 'bf16',
    reasoning: true,
    arch: {
      modelType: 'qwen3',
      hiddenSize: 2048,
      numLayers: 28,
      intermediateSize: 6144,
      numHeads: 16,
      numKvHeads: 8,
      headDim: 128,
      vocabSize: 151936,
      tiedEmbeddings: true,
      maxPositions: 40960,
      qkNorm: true,
    },
  },
  {
    // Model card (meta-llama/Llama-3.2-1B-Instruct): 1.23B parameters. This is an ungated copy of it, so
    // that it downloads without a Hub token.
    repo: 'unsloth/Llama-3.2-1B-Instruct',
    title: 'Llama 3.2 1B Instruct',
    note: 'Meta’s small instruction model (an ungated copy of meta-llama/Llama-3.2-1B-Instruct).',
    storedAs: 'bf16',
    arch: {
      modelType: 'llama',
      hiddenSize: 2048,
      numLayers: 16,
      intermediateSize: 8192,
      numHeads: 32,
      numKvHeads: 8,
      headDim: 64,
      vocabSize: 128256,
      tiedEmbeddings: true,
      maxPositions: 131072,
    },
  },
  {
    // Model card (google/gemma-3-1b-it): 1B parameters, 32K context; 26 layers, 5 of every 6 with a
    // 512-token sliding window. An ungated copy of it.
    repo: 'unsloth/gemma-3-1b-it',
    title: 'Gemma 3 1B',
    note: 'Google’s small instruction model (an ungated copy of google/gemma-3-1b-it).',
    storedAs: 'bf16',
    arch: {
      modelType: 'gemma3_text',
      hiddenSize: 1152,
      numLayers: 26,
      intermediateSize: 6912,
      numHeads: 4,
      numKvHeads: 1,
      headDim: 256,
      vocabSize: 262144,
      tiedEmbeddings: true,
      maxPositions: 32768,
      qkNorm: true,
      sandwichNorms: true,
      sliding: { window: 512, layers: 22 },
    },
  },
  {
    // Model card: 360M parameters (SmolLM2 family: 135M, 360M, 1.7B).
    repo: 'HuggingFaceTB/SmolLM2-360M-Instruct',
    title: 'SmolLM2 360M Instruct',
    note: 'The smallest real model here: fast everywhere, simple answers.',
    storedAs: 'bf16',
    arch: {
      modelType: 'llama',
      hiddenSize: 960,
      numLayers: 32,
      intermediateSize: 2560,
      numHeads: 15,
      numKvHeads: 5,
      headDim: 64,
      vocabSize: 49152,
      tiedEmbeddings: true,
      maxPositions: 8192,
    },
  },
  {
    // Model card: 30.5B parameters in total, 3.3B activated; 48 layers, 128 experts, 8 active.
    repo: 'Qwen/Qwen3-30B-A3B',
    title: 'Qwen3 30B-A3B (MoE)',
    note: 'A mixture of experts: 3.3B of its 30.5B parameters run per token. For large GPUs only.',
    storedAs: 'bf16',
    reasoning: true,
    large: true,
    arch: {
      modelType: 'qwen3_moe',
      hiddenSize: 2048,
      numLayers: 48,
      intermediateSize: 6144,
      numHeads: 32,
      numKvHeads: 4,
      headDim: 128,
      vocabSize: 151936,
      tiedEmbeddings: false,
      maxPositions: 40960,
      qkNorm: true,
      moe: { experts: 128, active: 8, intermediate: 768 },
    },
  },
];

/** The KV cache's length in tokens: the engine's default (the model's context, at most 4096). */
export const DEFAULT_CONTEXT = 4096;
/** Tokens per prefill chunk (the loader's default): a sliding layer's ring holds window + chunk - 1. */
const MAX_CHUNK = 128;

export interface Tensors {
  /** Values of the weight matrices (quantized at load), by role. */
  readonly matrices: { readonly name: string; readonly values: number; readonly count: number }[];
  /** Values of the norms (always f32 on the GPU) and biases. */
  readonly vectors: number;
}

/** Every weight of the model (as the loader fuses them: q|k|v and gate|up), by shape. */
export function tensors(a: Architecture): Tensors {
  const h = a.hiddenSize;
  const q = a.numHeads * a.headDim;
  const kv = a.numKvHeads * a.headDim;
  const L = a.numLayers;
  const matrices: Tensors['matrices'] = [
    { name: 'embed', values: a.vocabSize * h, count: 1 },
    ...(a.tiedEmbeddings ? [] : [{ name: 'lm_head', values: a.vocabSize * h, count: 1 }]),
    { name: 'q|k|v', values: (q + 2 * kv) * h, count: L },
    { name: 'o', values: h * q, count: L },
  ];
  if (a.moe) {
    const e = a.moe;
    matrices.push({ name: 'router', values: e.experts * h, count: L });
    matrices.push({ name: 'experts gate|up', values: e.experts * 2 * e.intermediate * h, count: L });
    matrices.push({ name: 'experts down', values: e.experts * h * e.intermediate, count: L });
  } else {
    matrices.push({ name: 'gate|up', values: 2 * a.intermediateSize * h, count: L });
    matrices.push({ name: 'down', values: h * a.intermediateSize, count: L });
  }
  const normsPerLayer = h * (a.sandwichNorms ? 4 : 2) + (a.qkNorm ? 2 * a.headDim : 0) + (a.qkvBias ? q + 2 * kv : 0);
  return { matrices, vectors: L * normsPerLayer + h };
}

/** Parameters in total, and those that run per token (less than the total for a mixture of experts). */
export function parameterCount(a: Architecture): { total: number; active: number } {
  const t = tensors(a);
  const total = t.matrices.reduce((s, m) => s + m.values * m.count, 0) + t.vectors;
  if (!a.moe) return { total, active: total };
  const experts = t.matrices.filter((m) => m.name.startsWith('experts')).reduce((s, m) => s + m.values * m.count, 0);
  return { total, active: total - experts + (experts * a.moe.active) / a.moe.experts };
}

/** Bytes of `values` weights of a matrix in a dtype's blocks ('auto' keeps what the checkpoint stores). */
export function weightBytes(values: number, dtype: WeightDType, storedAs: CatalogModel['storedAs']): number {
  const d = dtype === 'auto' ? storedAs : dtype;
  const { blockElems, blockBytes } = dtypeLayout[d];
  return Math.ceil(values / blockElems) * blockBytes;
}

export interface Footprint {
  readonly params: { total: number; active: number };
  /** Bytes to download (the published safetensors). */
  readonly downloadBytes: number;
  /** Bytes of GPU memory: weights at the dtype, and the KV cache. */
  readonly weightBytes: number;
  readonly kvCacheBytes: number;
  readonly gpuBytes: number;
  /** The largest single weight (one GPU buffer): it must fit maxBufferSize. */
  readonly largestTensorBytes: number;
  readonly context: number;
}

export function footprint(m: CatalogModel, dtype: WeightDType, context = DEFAULT_CONTEXT): Footprint {
  const a = m.arch;
  const t = tensors(a);
  const params = parameterCount(a);
  const stored = dtypeLayout[m.storedAs].blockBytes;
  const weights = t.matrices.reduce((s, x) => s + weightBytes(x.values, dtype, m.storedAs) * x.count, 0) + t.vectors * 4;
  const ctx = Math.min(context, a.maxPositions);
  const kvPerToken = 2 * a.numKvHeads * a.headDim * 4; // keys and values, f32
  const slidingLayers = a.sliding?.layers ?? 0;
  const ring = a.sliding ? Math.min(ctx, a.sliding.window + MAX_CHUNK - 1) : 0;
  const kv = kvPerToken * ((a.numLayers - slidingLayers) * ctx + slidingLayers * ring);
  return {
    params,
    downloadBytes: params.total * stored,
    weightBytes: weights,
    kvCacheBytes: kv,
    gpuBytes: weights + kv,
    largestTensorBytes: Math.max(...t.matrices.map((x) => weightBytes(x.values, dtype, m.storedAs))),
    context: ctx,
  };
}

export interface FitCheck {
  readonly ok: boolean;
  /** Why it does not fit, or a warning. */
  readonly problems: string[];
  readonly warnings: string[];
}

/**
 * Whether the model can load on this adapter at this dtype: its largest weight is one GPU buffer
 * (maxBufferSize); a weight past maxStorageBufferBindingSize is bound in row ranges, which the engine
 * does. WebGPU does not tell how much memory the GPU has: that is a warning, from a rough size.
 */
export function checkFit(
  f: Footprint,
  limits: Pick<GPUSupportedLimits, 'maxBufferSize' | 'maxStorageBufferBindingSize'> | undefined,
  storageFree: number | undefined,
  format: (n: number) => string,
): FitCheck {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (!limits) problems.push('No WebGPU adapter: nothing can run here.');
  else {
    if (f.largestTensorBytes > limits.maxBufferSize) {
      problems.push(
        `Its largest weight (${format(f.largestTensorBytes)}) is more than this GPU allows in one buffer (maxBufferSize ${format(limits.maxBufferSize)}): choose a smaller dtype.`,
      );
    } else if (f.largestTensorBytes > limits.maxStorageBufferBindingSize) {
      warnings.push(
        `Its largest weight (${format(f.largestTensorBytes)}) passes one binding (${format(limits.maxStorageBufferBindingSize)}): bound in parts, a little slower.`,
      );
    }
  }
  if (f.gpuBytes > 8e9) warnings.push(`Needs ${format(f.gpuBytes)} of GPU memory: a large discrete GPU.`);
  if (storageFree !== undefined && f.downloadBytes > storageFree)
    problems.push(`The download (${format(f.downloadBytes)}) is more than the free browser storage (${format(storageFree)}).`);
  return { ok: problems.length === 0, problems, warnings };
}

/** A Hugging Face config.json, as far as sizes go. */
interface HfConfig {
  model_type?: string;
  hidden_size?: number;
  num_hidden_layers?: number;
  intermediate_size?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  head_dim?: number;
  vocab_size?: number;
  tie_word_embeddings?: boolean;
  max_position_embeddings?: number;
  torch_dtype?: string;
  dtype?: string;
  attention_bias?: boolean;
  sliding_window?: number | null;
  num_experts?: number;
  num_local_experts?: number;
  num_experts_per_tok?: number;
  moe_intermediate_size?: number;
  text_config?: HfConfig;
}

/**
 * The size-relevant dimensions of any repo's config.json (dense and MoE decoders), so that a repo typed by
 * id is checked against the adapter before its weights are downloaded. Undefined when a field is missing.
 */
export function modelFromConfig(repo: string, raw: HfConfig): CatalogModel | undefined {
  const c = raw.text_config ? { ...raw.text_config, torch_dtype: raw.text_config.torch_dtype ?? raw.torch_dtype } : raw;
  const { hidden_size: h, num_hidden_layers: L, num_attention_heads: nH, vocab_size: V } = c;
  if (!h || !L || !nH || !V) return undefined;
  const type = c.model_type ?? '?';
  const experts = c.num_experts ?? c.num_local_experts;
  const stored = (c.torch_dtype ?? c.dtype ?? 'bfloat16').replace('float32', 'f32').replace('bfloat16', 'bf16').replace('float16', 'f16');
  return {
    repo,
    title: repo,
    note: '',
    storedAs: stored === 'f32' || stored === 'f16' ? stored : 'bf16',
    arch: {
      modelType: type,
      hiddenSize: h,
      numLayers: L,
      intermediateSize: c.intermediate_size ?? 4 * h,
      numHeads: nH,
      numKvHeads: c.num_key_value_heads ?? nH,
      headDim: c.head_dim ?? h / nH,
      vocabSize: V,
      tiedEmbeddings: c.tie_word_embeddings ?? false,
      maxPositions: c.max_position_embeddings ?? DEFAULT_CONTEXT,
      qkNorm: /qwen3|gemma3|olmoe/.test(type),
      qkvBias: type === 'qwen2' || c.attention_bias === true,
      moe:
        experts && c.num_experts_per_tok
          ? { experts, active: c.num_experts_per_tok, intermediate: c.moe_intermediate_size ?? c.intermediate_size ?? 4 * h }
          : undefined,
    },
  };
}
