/**
 * Separable antialiased resampling of 8-bit RGB images, as Pillow's `Image.resize` and PyTorch's uint8
 * `interpolate(..., antialias=True)` (what torchvision's `resize` runs on uint8 tensors, and so what the
 * transformers 5 image processors run) compute it: per output pixel a window of 2 * support * scale input
 * pixels (scale = in / out when shrinking, else 1), weights filter((x - center + 0.5) / scale) normalised
 * to sum 1, converted to fixed point; a horizontal pass into an 8-bit buffer, then a vertical pass, each
 * rounding and clamping to 0..255.
 *
 * The two differ only in the fixed-point precision of the weights: Pillow uses 22 fractional bits; PyTorch
 * the most bits that keep the largest weight within int16 (about 15). That changes a few pixels by one level
 * (1/255) between a `CLIPImageProcessor` (torchvision) and a `CLIPImageProcessorPil`; `precision` picks.
 */

export type ResampleFilter = 'bilinear' | 'bicubic' | 'lanczos' | 'box' | 'hamming';
/** 'pil': Pillow's 22-bit weights; 'torch': PyTorch's int16 weights (torchvision, transformers' default backend). */
export type ResamplePrecision = 'pil' | 'torch';

/** PIL's resample codes (`PILImageResampling`) as in preprocessor_config.json; 0 (nearest) is not supported. */
export const PIL_RESAMPLE: Readonly<Record<number, ResampleFilter>> = { 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'box', 5: 'hamming' };

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));

/** Pillow's filters (src/libImaging/Resample.c), with their supports. */
const FILTERS: Record<ResampleFilter, { support: number; f: (x: number) => number }> = {
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, f: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  hamming: {
    support: 1,
    f: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      return (Math.sin(x) / x) * (0.54 + 0.46 * Math.cos(x));
    },
  },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, f: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** Integer weights of one dimension: for output i, inputs [start[i], start[i] + count[i]) with weights[i * k ..]. */
export interface ResampleCoefficients {
  readonly k: number;
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly weights: Int32Array; // [out, k] fixed point
  readonly precision: number; // fractional bits
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc (or PyTorch's int16 variant). */
export function resampleCoefficients(inSize: number, outSize: number, filter: ResampleFilter, mode: ResamplePrecision): ResampleCoefficients {
  const { support: base, f } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = base * filterScale;
  const k = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const w = new Float64Array(outSize * k);
  let wMax = 0;
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xsize = Math.min(Math.min(Math.trunc(center + support + 0.5), inSize) - xmin, k);
    let total = 0;
    for (let x = 0; x < xsize; x++) {
      const v = f((x + xmin - center + 0.5) / filterScale);
      w[i * k + x] = v;
      total += v;
    }
    if (total !== 0) for (let x = 0; x < xsize; x++) wMax = Math.max(wMax, (w[i * k + x]! /= total));
    start[i] = xmin;
    count[i] = xsize;
  }
  let precision = 22;
  if (mode === 'torch') {
    // PyTorch: the most bits (< 22) with round(wMax * 2^(bits + 1)) still below 2^15 at the next step.
    for (precision = 0; precision < 22; precision++) if (Math.trunc(0.5 + wMax * 2 ** (precision + 1)) >= 1 << 15) break;
  }
  const weights = new Int32Array(outSize * k);
  for (let j = 0; j < w.length; j++) {
    const v = w[j]! * 2 ** precision;
    weights[j] = v < 0 ? Math.trunc(-0.5 + v) : Math.trunc(0.5 + v);
  }
  return { k, start, count, weights, precision };
}

const clip8 = (ss: number, precision: number) => Math.min(255, Math.max(0, Math.floor(ss / 2 ** precision)));

/** One pass along x (stride 3 per pixel, `rows` rows of `inW` pixels) into rows of outW pixels. */
function horizontal(src: Uint8Array, inW: number, rows: number, c: ResampleCoefficients): Uint8Array {
  const outW = c.start.length;
  const out = new Uint8Array(outW * rows * 3);
  const half = 2 ** (c.precision - 1);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < outW; x++) {
      const s = c.start[x]!;
      const n = c.count[x]!;
      let r = half;
      let g = half;
      let b = half;
      for (let j = 0; j < n; j++) {
        const wt = c.weights[x * c.k + j]!;
        const p = (y * inW + s + j) * 3;
        r += src[p]! * wt;
        g += src[p + 1]! * wt;
        b += src[p + 2]! * wt;
      }
      const o = (y * outW + x) * 3;
      out[o] = clip8(r, c.precision);
      out[o + 1] = clip8(g, c.precision);
      out[o + 2] = clip8(b, c.precision);
    }
  }
  return out;
}

/** One pass along y (rows of `w` pixels). */
function vertical(src: Uint8Array, w: number, c: ResampleCoefficients): Uint8Array {
  const outH = c.start.length;
  const out = new Uint8Array(w * outH * 3);
  const half = 2 ** (c.precision - 1);
  for (let y = 0; y < outH; y++) {
    const s = c.start[y]!;
    const n = c.count[y]!;
    for (let x = 0; x < w; x++) {
      let r = half;
      let g = half;
      let b = half;
      for (let j = 0; j < n; j++) {
        const wt = c.weights[y * c.k + j]!;
        const p = ((s + j) * w + x) * 3;
        r += src[p]! * wt;
        g += src[p + 1]! * wt;
        b += src[p + 2]! * wt;
      }
      const o = (y * w + x) * 3;
      out[o] = clip8(r, c.precision);
      out[o + 1] = clip8(g, c.precision);
      out[o + 2] = clip8(b, c.precision);
    }
  }
  return out;
}

/** rgb [inH, inW, 3] uint8 → [outH, outW, 3] uint8: horizontal pass, then vertical (each only when the size changes). */
export function resizeRgb8(
  rgb: Uint8Array,
  inW: number,
  inH: number,
  outW: number,
  outH: number,
  filter: ResampleFilter,
  precision: ResamplePrecision,
): Uint8Array {
  let data = rgb;
  if (outW !== inW) data = horizontal(data, inW, inH, resampleCoefficients(inW, outW, filter, precision));
  if (outH !== inH) data = vertical(data, outW, resampleCoefficients(inH, outH, filter, precision));
  return data === rgb ? rgb.slice() : data;
}
