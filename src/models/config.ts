import { InvalidModelError } from '../errors.js';
import type { Activation } from '../kernels/elementwise.js';

export type LayerKind = 'full' | 'sliding';
/** A transformers-5 style rope_parameters object: {rope_type, rope_theta, factor?, ...}. */
export type RopeDict = Readonly<Record<string, unknown>> & { readonly rope_type: string; readonly rope_theta: number };
import type { MlaDims } from '../layers/mla.js';
import type { MoeConfig } from '../layers/moe.js';
import type { RawConfig } from '../weights/source.js';

export type { RawConfig };

/** A decoder-only transformer, whatever the checkpoint's spelling. Variants are fields. */
export interface ModelConfig {
  readonly modelType: string;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly rmsNormEps: number;
  /** Attention kind of each layer: 'sliding' layers see the last `slidingWindow` positions. */
  readonly layerTypes: readonly LayerKind[];
  readonly slidingWindow?: number;
  /** RoPE of full and of sliding layers (the same object unless the family differs, as Gemma 3). */
  readonly rope: { readonly full: RopeDict; readonly sliding: RopeDict };
  readonly ropeLayout: 'neox' | 'interleaved';
  readonly rotaryDim: number;
  readonly maxPositionEmbeddings: number;
  /** q/k/v projections have biases (Qwen2); the output projection has one. */
  readonly qkvBias: boolean;
  readonly oBias: boolean;
  readonly mlpBias: boolean;
  /** Per-head RMSNorm of q and k before RoPE (Qwen3, Gemma 3). */
  readonly qkNorm: boolean;
  /** RMSNorm scales by (offset + w): 1 for Gemma. */
  readonly normWeightOffset: number;
  /** Norms on the attention and MLP outputs too (Gemma's pre/post feed-forward norms). */
  readonly sandwichNorms: boolean;
  readonly activation: Activation;
  /** The embedding output is multiplied by this (Gemma: sqrt(hidden)). */
  readonly embedScale: number;
  /** Softmax scale of q·k. */
  readonly attentionScale: number;
  readonly attnLogitSoftcap?: number;
  readonly finalLogitSoftcap?: number;
  readonly tieWordEmbeddings: boolean;
  readonly bosTokenId?: number;
  readonly eosTokenIds: readonly number[];
  /** Routed experts (MoE families); their dense layers use the MLP. */
  readonly moe?: MoeConfig;
  /** Multi-head latent attention (DeepSeek) in place of q/k/v attention. */
  readonly mla?: MlaDims;
  /** The attention and MLP outputs are scaled before the residual add (granitemoe). */
  readonly residualScale?: number;
  /** Logits are divided by this (granitemoe). */
  readonly logitsDivisor?: number;
  /** q_norm / k_norm weights span the whole projection [nH * hd] / [nKv * hd], not one head (olmoe). */
  readonly qkNormOverProjection?: boolean;
  readonly raw: RawConfig;
}

const ACTIVATIONS: Record<string, Activation> = {
  silu: 'silu',
  swish: 'silu',
  gelu: 'gelu_erf',
  gelu_pytorch_tanh: 'gelu_tanh',
  gelu_new: 'gelu_tanh',
  gelu_fast: 'gelu_tanh',
  quick_gelu: 'quick_gelu',
  relu: 'relu',
};

/** Typed reads of config.json fields, with the file named in every error. */
export class ConfigReader {
  constructor(readonly raw: RawConfig, readonly where: string) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  int(key: string, fallback?: number): number {
    const v = this.raw[key] ?? fallback;
    if (v === undefined || v === null) throw new InvalidModelError(`${this.where}: config.json has no ${key}`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new InvalidModelError(`${this.where}: config.json ${key} = ${JSON.stringify(v)} is not a count`);
    return v;
  }

  num(key: string, fallback?: number): number {
    const v = this.raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidModelError(`${this.where}: config.json ${key} = ${JSON.stringify(v)} is not a number`);
    return v;
  }

  optNum(key: string): number | undefined {
    return this.has(key) ? this.num(key) : undefined;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    return typeof v === 'boolean' ? v : fallback;
  }

  activation(keys: readonly string[], fallback: string): Activation {
    const name = (keys.map((k) => this.raw[k]).find((v) => typeof v === 'string') as string | undefined) ?? fallback;
    const act = ACTIVATIONS[name];
    if (!act) throw new InvalidModelError(`${this.where}: activation ${name} is not supported (${Object.keys(ACTIVATIONS).join(', ')})`);
    return act;
  }

  tokenIds(key: string): number[] {
    const v = this.raw[key];
    if (typeof v === 'number') return [v];
    if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
    return [];
  }
}

/**
 * RoPE parameters in transformers-5 form from either config style: `rope_parameters` ({rope_theta,
 * rope_type, ...}, or one such object per layer type), or the older `rope_theta` + `rope_scaling`.
 */
export function ropeDict(c: ConfigReader, layerType?: 'full_attention' | 'sliding_attention'): RopeDict {
  let p = c.raw.rope_parameters as Record<string, unknown> | undefined;
  if (p && layerType && typeof p[layerType] === 'object' && p[layerType]) p = p[layerType] as Record<string, unknown>;
  if (p && typeof p === 'object' && ('rope_theta' in p || 'rope_type' in p)) {
    const theta = p.rope_theta ?? c.raw.rope_theta ?? 10000;
    return { ...p, rope_type: String(p.rope_type ?? p.type ?? 'default'), rope_theta: Number(theta) };
  }
  const scaling = (c.raw.rope_scaling ?? {}) as Record<string, unknown>;
  const type = String(scaling.rope_type ?? scaling.type ?? 'default');
  return { ...scaling, rope_type: type, rope_theta: c.num('rope_theta', 10000) };
}

/** Fields every supported decoder shares, read from a transformers config.json; families adjust them. */
export function baseConfig(c: ConfigReader, generation: RawConfig = {}): ModelConfig {
  const hiddenSize = c.int('hidden_size');
  const numHeads = c.int('num_attention_heads');
  const numLayers = c.int('num_hidden_layers');
  if (numLayers > MAX_LAYERS) throw new InvalidModelError(`${c.where}: config.json num_hidden_layers = ${numLayers} is more than any model has (${MAX_LAYERS})`);
  const headDim = c.has('head_dim') ? c.int('head_dim') : hiddenSize / numHeads;
  if (!Number.isInteger(headDim)) throw new InvalidModelError(`${c.where}: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
  const numKvHeads = c.int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) throw new InvalidModelError(`${c.where}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  const rope = ropeDict(c);
  const gen = new ConfigReader(generation, c.where);
  const eos = gen.tokenIds('eos_token_id').length ? gen.tokenIds('eos_token_id') : c.tokenIds('eos_token_id');
  const bos = gen.tokenIds('bos_token_id')[0] ?? c.tokenIds('bos_token_id')[0];
  const partial = c.optNum('partial_rotary_factor') ?? 1;
  return {
    modelType: String(c.raw.model_type),
    vocabSize: c.int('vocab_size'),
    hiddenSize,
    intermediateSize: c.int('intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: c.num('rms_norm_eps', 1e-6),
    layerTypes: layerTypes(c, numLayers),
    slidingWindow: c.has('sliding_window') ? c.int('sliding_window') : undefined,
    rope: { full: rope, sliding: rope },
    ropeLayout: 'neox',
    rotaryDim: Math.floor(headDim * partial),
    maxPositionEmbeddings: c.int('max_position_embeddings', 4096),
    qkvBias: c.bool('attention_bias', false),
    oBias: c.bool('attention_bias', false),
    mlpBias: c.bool('mlp_bias', false),
    qkNorm: false,
    normWeightOffset: 0,
    sandwichNorms: false,
    activation: c.activation(['hidden_act', 'hidden_activation'], 'silu'),
    embedScale: 1,
    attentionScale: 1 / Math.sqrt(headDim),
    attnLogitSoftcap: c.optNum('attn_logit_softcapping'),
    finalLogitSoftcap: c.optNum('final_logit_softcapping'),
    tieWordEmbeddings: c.bool('tie_word_embeddings', false),
    bosTokenId: bos,
    eosTokenIds: eos,
    raw: c.raw,
  };
}

const MAX_LAYERS = 10_000;

/** `layer_types` when given; else every layer full. Families with older conventions override this. */
function layerTypes(c: ConfigReader, n: number): LayerKind[] {
  const t = c.raw.layer_types;
  if (Array.isArray(t)) {
    if (t.length !== n) throw new InvalidModelError(`${c.where}: layer_types has ${t.length} entries for ${n} layers`);
    return t.map((x) => {
      if (x === 'full_attention') return 'full';
      if (x === 'sliding_attention') return 'sliding';
      throw new InvalidModelError(`${c.where}: layer type ${String(x)} is not supported`);
    });
  }
  return new Array<LayerKind>(n).fill('full');
}
