import { InvalidModelError, UnsupportedModelError } from '../errors.js';

/**
 * RoPE frequencies on the CPU, as transformers 5 (modeling_rope_utils.py) computes them: the rope types
 * default, linear, dynamic, yarn (with DeepSeek's mscale / mscale_all_dim and `truncate`), llama3 and
 * longrope. Tensor arithmetic is emulated in f32 (Math.fround after each torch op) so the frequencies
 * match torch's f32 values.
 */
export type RopeType = 'default' | 'linear' | 'dynamic' | 'yarn' | 'llama3' | 'longrope';

export interface RopeParameters {
  readonly ropeType: RopeType;
  readonly theta: number;
  /** Scaling factor (1 for default). */
  readonly factor: number;
  readonly maxPositionEmbeddings: number;
  /** Pre-extension context (yarn, llama3, longrope); maxPositionEmbeddings when the config has none. */
  readonly originalMaxPositionEmbeddings: number;
  /** llama3 */
  readonly lowFreqFactor?: number;
  readonly highFreqFactor?: number;
  /** yarn / longrope: an explicit attention factor; else derived from factor (and mscale, mscaleAllDim). */
  readonly attentionFactor?: number;
  readonly betaFast?: number;
  readonly betaSlow?: number;
  readonly mscale?: number;
  readonly mscaleAllDim?: number;
  /** yarn: round the correction range to whole dims (default true). */
  readonly truncate: boolean;
  /** longrope */
  readonly shortFactor?: readonly number[];
  readonly longFactor?: readonly number[];
}

type Dict = Readonly<Record<string, unknown>>;

const KNOWN: readonly string[] = ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope'];

function num(d: Dict, key: string): number | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidModelError(`config: rope parameter ${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function numList(d: Dict, key: string): number[] | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) throw new InvalidModelError(`config: rope parameter ${key} must be a list of numbers`);
  return v as number[];
}

/**
 * Normalises a model config's RoPE settings, either style: transformers 5 `rope_parameters`
 * ({rope_theta, rope_type, ...}, or one such dict per layer type: pass `layerType`), or the older
 * `rope_theta` + `rope_scaling` ({type | rope_type, factor, ...}). partial_rotary_factor is the caller's
 * (the rotaryDim it passes to ropeTable).
 */
export function ropeParameters(config: Dict, layerType: 'full_attention' | 'sliding_attention' = 'full_attention'): RopeParameters {
  let d: Dict | undefined;
  const rp = config.rope_parameters as Dict | undefined | null;
  if (rp && typeof rp === 'object') {
    const nested = rp[layerType] ?? rp.full_attention;
    d = nested && typeof nested === 'object' && !('rope_theta' in rp) ? (nested as Dict) : rp;
  }
  if (!d || !('rope_theta' in d || 'rope_type' in d || 'type' in d)) {
    const rs = config.rope_scaling as Dict | undefined | null;
    d = { ...(rs && typeof rs === 'object' ? rs : {}), rope_theta: config.rope_theta ?? d?.rope_theta };
  }
  const type = String(d.rope_type ?? d.type ?? 'default');
  if (!KNOWN.includes(type)) throw new UnsupportedModelError(`rope type '${type}' is not supported (${KNOWN.join(', ')})`);
  const ropeType = type as RopeType;
  const theta = num(d, 'rope_theta') ?? (typeof config.rope_theta === 'number' ? config.rope_theta : 10000);
  const maxPositionEmbeddings = num(config, 'max_position_embeddings') ?? 2048;
  // transformers: a top-level original_max_position_embeddings (Phi-3) takes priority for these types.
  const scaled = ropeType === 'yarn' || ropeType === 'llama3' || ropeType === 'longrope';
  const originalMaxPositionEmbeddings =
    (scaled ? num(config, 'original_max_position_embeddings') : undefined) ?? num(d, 'original_max_position_embeddings') ?? maxPositionEmbeddings;
  let factor = num(d, 'factor');
  if (factor === undefined && (ropeType === 'yarn' || ropeType === 'longrope')) factor = maxPositionEmbeddings / originalMaxPositionEmbeddings;
  if (factor === undefined && ropeType !== 'default') throw new InvalidModelError(`config: rope type '${ropeType}' needs a factor`);
  if (ropeType === 'llama3' && (num(d, 'low_freq_factor') === undefined || num(d, 'high_freq_factor') === undefined)) {
    throw new InvalidModelError(`config: rope type 'llama3' needs low_freq_factor and high_freq_factor`);
  }
  return {
    ropeType,
    theta,
    factor: factor ?? 1,
    maxPositionEmbeddings,
    originalMaxPositionEmbeddings,
    lowFreqFactor: num(d, 'low_freq_factor'),
    highFreqFactor: num(d, 'high_freq_factor'),
    attentionFactor: num(d, 'attention_factor'),
    betaFast: num(d, 'beta_fast'),
    betaSlow: num(d, 'beta_slow'),
    mscale: num(d, 'mscale'),
    mscaleAllDim: num(d, 'mscale_all_dim'),
    truncate: d.truncate === undefined || d.truncate === null ? true : !!d.truncate,
    shortFactor: numList(d, 'short_factor'),
    longFactor: numList(d, 'long_factor'),
  };
}

const f = Math.fround;

/** base ** (arange(0, dim, 2) / dim) in f32, as torch computes it. */
function posFreqs(base: number, dim: number): Float32Array {
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) out[i] = f(Math.pow(f(base), f(f(2 * i) / dim)));
  return out;
}

function defaultInvFreq(base: number, dim: number): Float32Array {
  return posFreqs(base, dim).map((p) => f(1 / p));
}

function yarnMscale(scale: number, mscale = 1): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

function yarn(p: RopeParameters, dim: number): { invFreq: Float32Array; attentionFactor: number } {
  const { theta: base, factor } = p;
  let attentionFactor = p.attentionFactor;
  if (attentionFactor === undefined) {
    attentionFactor = p.mscale && p.mscaleAllDim ? yarnMscale(factor, p.mscale) / yarnMscale(factor, p.mscaleAllDim) : yarnMscale(factor);
  }
  const betaFast = p.betaFast || 32;
  const betaSlow = p.betaSlow || 1;
  const correctionDim = (rot: number) => (dim * Math.log(p.originalMaxPositionEmbeddings / (rot * 2 * Math.PI))) / (2 * Math.log(base));
  let low = correctionDim(betaFast);
  let high = correctionDim(betaSlow);
  if (p.truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  const pf = posFreqs(base, dim);
  const invFreq = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const extrapolation = f(1 / pf[i]!);
    const interpolation = f(1 / f(f(factor) * pf[i]!));
    const ramp = Math.min(Math.max(f(f(i - f(low)) / f(high - low)), 0), 1);
    const extraFactor = f(1 - ramp);
    invFreq[i] = f(f(interpolation * f(1 - extraFactor)) + f(extrapolation * extraFactor));
  }
  return { invFreq, attentionFactor };
}

function llama3(p: RopeParameters, dim: number): Float32Array {
  const inv = defaultInvFreq(p.theta, dim);
  const factor = f(p.factor);
  const low = p.lowFreqFactor!;
  const highF = p.highFreqFactor!;
  const old = p.originalMaxPositionEmbeddings;
  const lowWavelen = f(old / low);
  const highWavelen = f(old / highF);
  return inv.map((v) => {
    const wavelen = f(f(1 / v) * f(2 * Math.PI));
    const scaled = wavelen > lowWavelen ? f(v / factor) : v;
    if (wavelen < highWavelen || wavelen > lowWavelen) return scaled;
    const smooth = f(f(f(f(1 / wavelen) * old) - f(low)) / f(highF - low));
    return f(f(f(f(1 - smooth) * scaled) / factor) + f(smooth * scaled));
  });
}

/**
 * invFreq [rotaryDim / 2] f32 and the factor that multiplies cos and sin. `maxPositions` is the context
 * the engine will run; dynamic NTK scaling is the default rope up to max_position_embeddings (as
 * transformers at init), and longrope uses short_factor up to original_max_position_embeddings: both
 * are refused beyond that, where transformers rescales per sequence length.
 */
export function ropeTable(p: RopeParameters, rotaryDim: number, maxPositions?: number): { invFreq: Float32Array; attentionFactor: number } {
  if (!(rotaryDim > 0 && rotaryDim % 2 === 0)) throw new InvalidModelError(`rope: rotary dim ${rotaryDim} must be even and positive`);
  const dim = rotaryDim;
  switch (p.ropeType) {
    case 'default':
      return { invFreq: defaultInvFreq(p.theta, dim), attentionFactor: 1 };
    case 'linear':
      return { invFreq: defaultInvFreq(p.theta, dim).map((v) => f(v / f(p.factor))), attentionFactor: 1 };
    case 'dynamic':
      if (maxPositions !== undefined && maxPositions > p.maxPositionEmbeddings) {
        throw new UnsupportedModelError(
          `rope type 'dynamic' beyond max_position_embeddings (${p.maxPositionEmbeddings}) is not supported: use a context of at most that`,
        );
      }
      return { invFreq: defaultInvFreq(p.theta, dim), attentionFactor: 1 };
    case 'yarn':
      return yarn(p, dim);
    case 'llama3':
      return { invFreq: llama3(p, dim), attentionFactor: 1 };
    case 'longrope': {
      if (maxPositions !== undefined && maxPositions > p.originalMaxPositionEmbeddings) {
        throw new UnsupportedModelError(
          `rope type 'longrope' beyond original_max_position_embeddings (${p.originalMaxPositionEmbeddings}) is not supported: use a context of at most that`,
        );
      }
      const ext = p.shortFactor;
      if (!ext || ext.length !== dim / 2) throw new InvalidModelError(`rope: longrope short_factor must have ${dim / 2} entries`);
      const factor = p.factor;
      const attentionFactor = p.attentionFactor ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(p.originalMaxPositionEmbeddings)));
      const pf = posFreqs(p.theta, dim);
      return { invFreq: pf.map((v, i) => f(1 / f(f(ext[i]!) * v))), attentionFactor };
    }
  }
}
