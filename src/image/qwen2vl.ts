import { InvalidArgumentError, InvalidModelError } from '../errors.js';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, rgbaToRgb, type RgbaImage } from './preprocess.js';
import { PIL_RESAMPLE, resizeRgb8, type ResampleFilter, type ResamplePrecision } from './resize.js';

/** preprocessor_config.json of Qwen2VLImageProcessor: smart_resize to multiples of patch * merge, then patches. */
export interface Qwen2VLPreprocessConfig {
  readonly doResize: boolean;
  /** The resized image's pixel budget (size.shortest_edge / size.longest_edge, or min_pixels / max_pixels). */
  readonly minPixels: number;
  readonly maxPixels: number;
  readonly patchSize: number;
  /** Frames per patch: a still image is repeated this many times. */
  readonly temporalPatchSize: number;
  /** Patches merged into one token along each side (the merger's 2x2). */
  readonly mergeSize: number;
  readonly filter: ResampleFilter;
  readonly precision: ResamplePrecision;
  readonly doRescale: boolean;
  readonly rescaleFactor: number;
  readonly doNormalize: boolean;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

/**
 * Reads preprocessor_config.json (Qwen2VLImageProcessor's defaults where a key is absent). A type ending in `Pil`
 * means Pillow's resize, otherwise transformers 5's torchvision backend (PyTorch's resize weights), as for CLIP.
 */
export function qwen2vlPreprocessConfig(raw: Readonly<Record<string, unknown>>, where = 'preprocessor_config.json'): Qwen2VLPreprocessConfig {
  const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : d);
  const bool = (v: unknown, d: boolean) => (typeof v === 'boolean' ? v : d);
  const triple = (v: unknown, d: readonly number[]): [number, number, number] => {
    if (typeof v === 'number') return [v, v, v];
    if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) return v as [number, number, number];
    return [d[0]!, d[1]!, d[2]!];
  };
  const int = (key: string, v: unknown, d: number) => {
    const x = num(v, d);
    if (!Number.isInteger(x) || x <= 0) throw new InvalidModelError(`${where}: ${key} ${JSON.stringify(v)} must be a positive integer`);
    return x;
  };
  const size = (raw.size ?? {}) as Record<string, unknown>;
  const minPixels = int('min_pixels', size.shortest_edge ?? size.min_pixels ?? raw.min_pixels, 56 * 56);
  const maxPixels = int('max_pixels', size.longest_edge ?? size.max_pixels ?? raw.max_pixels, 28 * 28 * 1280);
  if (minPixels > maxPixels) throw new InvalidModelError(`${where}: min_pixels ${minPixels} exceeds max_pixels ${maxPixels}`);
  const code = num(raw.resample, 3);
  const filter = PIL_RESAMPLE[code];
  if (!filter) throw new InvalidModelError(`${where}: resample ${code} is not supported (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)`);
  const pil = typeof raw.image_processor_type === 'string' && /Pil$/.test(raw.image_processor_type);
  return {
    doResize: bool(raw.do_resize, true),
    minPixels,
    maxPixels,
    patchSize: int('patch_size', raw.patch_size, 14),
    temporalPatchSize: int('temporal_patch_size', raw.temporal_patch_size, 2),
    mergeSize: int('merge_size', raw.merge_size, 2),
    filter: !pil && filter === 'lanczos' ? 'bicubic' : filter,
    precision: pil || (filter !== 'bicubic' && filter !== 'bilinear') ? 'pil' : 'torch',
    doRescale: bool(raw.do_rescale, true),
    rescaleFactor: num(raw.rescale_factor, 1 / 255),
    doNormalize: bool(raw.do_normalize, true),
    mean: triple(raw.image_mean, OPENAI_CLIP_MEAN),
    std: triple(raw.image_std, OPENAI_CLIP_STD),
  };
}

/** Python's round(): halves to even. */
const roundHalfEven = (x: number) => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/**
 * transformers' smart_resize: both sides multiples of `factor`, the area within [minPixels, maxPixels], the
 * aspect kept as closely as that allows (Python's rounding, floor and ceil on the same double arithmetic).
 */
export function smartResize(height: number, width: number, factor: number, minPixels: number, maxPixels: number): { height: number; width: number } {
  if (!(height > 0 && width > 0)) throw new InvalidArgumentError(`an image of ${width} x ${height} pixels cannot be preprocessed`);
  if (Math.max(height, width) / Math.min(height, width) > 200) {
    throw new InvalidArgumentError(`the image's aspect ratio must be at most 200:1, got ${width} x ${height}`);
  }
  let h = roundHalfEven(height / factor) * factor;
  let w = roundHalfEven(width / factor) * factor;
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.max(factor, Math.floor(height / beta / factor) * factor);
    w = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  return { height: h, width: w };
}

/** The patch grid of an image: [t, h, w] patches (image_grid_thw) and the size it is resized to. */
export interface Qwen2VLGrid {
  readonly t: number;
  readonly h: number;
  readonly w: number;
  readonly resized: { readonly width: number; readonly height: number };
}

export function qwen2vlGrid(width: number, height: number, cfg: Qwen2VLPreprocessConfig): Qwen2VLGrid {
  const factor = cfg.patchSize * cfg.mergeSize;
  const r = cfg.doResize ? smartResize(height, width, factor, cfg.minPixels, cfg.maxPixels) : { height, width };
  if (r.height % factor !== 0 || r.width % factor !== 0) {
    throw new InvalidArgumentError(`an image of ${r.width} x ${r.height} is not a whole number of ${factor}-pixel merge groups (do_resize is off)`);
  }
  return { t: 1, h: r.height / cfg.patchSize, w: r.width / cfg.patchSize, resized: { width: r.width, height: r.height } };
}

/** One image's patches: pixel_values [t * h * w, C * temporal * p * p] and its grid. */
export interface Qwen2VLPatches {
  readonly pixels: Float32Array;
  readonly grid: Qwen2VLGrid;
}

/** pixel_values of one image, as Qwen2VLImageProcessor makes them: RGB, smart_resize, rescale, normalize, patches. */
export function qwen2vlPreprocess(img: RgbaImage, cfg: Qwen2VLPreprocessConfig): Qwen2VLPatches {
  const grid = qwen2vlGrid(img.width, img.height, cfg);
  const { width, height } = grid.resized;
  let rgb = rgbaToRgb(img);
  if (width !== img.width || height !== img.height) rgb = resizeRgb8(rgb, img.width, img.height, width, height, cfg.filter, cfg.precision);
  return qwen2vlPatches(rgb, grid, cfg);
}

/**
 * The patches of a resized RGB image [H, W, 3] uint8, in the image processor's order: 2x2 (merge) groups row by
 * row, the merge x merge patches of a group inside in row order; each patch [C, temporal, p, p] with the frame
 * repeated `temporal` times, rescaled and normalized.
 */
export function qwen2vlPatches(rgb: Uint8Array, grid: Qwen2VLGrid, cfg: Qwen2VLPreprocessConfig): Qwen2VLPatches {
  const { patchSize: p, temporalPatchSize: tp, mergeSize: m } = cfg;
  const W = grid.resized.width;
  const K = 3 * tp * p * p;
  const pixels = new Float32Array(grid.h * grid.w * K);
  const scale = cfg.doRescale ? cfg.rescaleFactor : 1;
  const { ph, pw } = patchPositions(grid.h, grid.w, m);
  for (let i = 0; i < ph.length; i++) {
    const y0 = ph[i]! * p;
    const x0 = pw[i]! * p;
    for (let c = 0; c < 3; c++) {
      const mean = cfg.doNormalize ? cfg.mean[c]! : 0;
      const std = cfg.doNormalize ? cfg.std[c]! : 1;
      for (let y = 0; y < p; y++) {
        for (let x = 0; x < p; x++) {
          const v = (rgb[((y0 + y) * W + x0 + x) * 3 + c]! * scale - mean) / std;
          for (let t = 0; t < tp; t++) pixels[i * K + ((c * tp + t) * p + y) * p + x] = v;
        }
      }
    }
  }
  return { pixels, grid };
}

/**
 * The (row, column) of every patch of an h x w grid in the merge-grouped order (the vision tower's 2-D rotary
 * positions, and where the image processor takes each patch from).
 */
export function patchPositions(h: number, w: number, m: number): { ph: Uint32Array; pw: Uint32Array } {
  if (h % m !== 0 || w % m !== 0) throw new InvalidArgumentError(`a ${h} x ${w} patch grid is not a whole number of ${m} x ${m} merge groups`);
  const ph = new Uint32Array(h * w);
  const pw = new Uint32Array(h * w);
  let i = 0;
  for (let hb = 0; hb < h / m; hb++) {
    for (let wb = 0; wb < w / m; wb++) {
      for (let mh = 0; mh < m; mh++) {
        for (let mw = 0; mw < m; mw++, i++) {
          ph[i] = hb * m + mh;
          pw[i] = wb * m + mw;
        }
      }
    }
  }
  return { ph, pw };
}
