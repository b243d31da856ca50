import { InvalidModelError } from '../errors.js';
import { rgbaToRgb, type RgbaImage } from './preprocess.js';
import { PIL_RESAMPLE, resizeRgb8, type ResampleFilter, type ResamplePrecision } from './resize.js';

/** preprocessor_config.json of Idefics3ImageProcessor (SmolVLM): resize the longest edge, split into tiles. */
export interface Idefics3PreprocessConfig {
  readonly doResize: boolean;
  /** The longest edge after the first resize (size.longest_edge). */
  readonly longestEdge: number;
  readonly doImageSplitting: boolean;
  /** The tile side, which is the vision tower's image size (max_image_size.longest_edge). */
  readonly tileSize: number;
  readonly filter: ResampleFilter;
  readonly precision: ResamplePrecision;
  readonly doRescale: boolean;
  readonly rescaleFactor: number;
  readonly doNormalize: boolean;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

/** transformers' MAX_IMAGE_SIZE: no resized side exceeds it. */
const MAX_SIDE = 4096;

/**
 * Reads preprocessor_config.json (Idefics3ImageProcessor's defaults where a key is absent). As for CLIP
 * (src/image/preprocess.ts), a type ending in `Pil` means Pillow's resize; otherwise transformers 5's
 * torchvision backend, which runs LANCZOS as bicubic with PyTorch's weights.
 */
export function idefics3PreprocessConfig(raw: Readonly<Record<string, unknown>>, where = 'preprocessor_config.json'): Idefics3PreprocessConfig {
  const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : d);
  const bool = (v: unknown, d: boolean) => (typeof v === 'boolean' ? v : d);
  const triple = (v: unknown): [number, number, number] => {
    if (typeof v === 'number') return [v, v, v];
    if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) return v as [number, number, number];
    return [0.5, 0.5, 0.5];
  };
  const edge = (v: unknown, key: string, d: number) => {
    if (v === undefined) return d;
    const e = (v as Record<string, unknown>)?.longest_edge;
    if (typeof e !== 'number' || !Number.isInteger(e) || e <= 0)
      throw new InvalidModelError(`${where}: ${key} ${JSON.stringify(v)} needs a positive longest_edge`);
    return e;
  };
  const code = num(raw.resample, 1);
  let filter = PIL_RESAMPLE[code];
  if (!filter) throw new InvalidModelError(`${where}: resample ${code} is not supported (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)`);
  const pil = typeof raw.image_processor_type === 'string' && /Pil$/.test(raw.image_processor_type);
  if (!pil && filter === 'lanczos') filter = 'bicubic';
  const tileSize = edge(raw.max_image_size, 'max_image_size', 364);
  const longestEdge = edge(raw.size, 'size', 4 * 364);
  return {
    doResize: bool(raw.do_resize, true),
    longestEdge,
    doImageSplitting: bool(raw.do_image_splitting, true),
    tileSize,
    filter,
    precision: pil || (filter !== 'bicubic' && filter !== 'bilinear') ? 'pil' : 'torch',
    doRescale: bool(raw.do_rescale, true),
    rescaleFactor: num(raw.rescale_factor, 1 / 255),
    doNormalize: bool(raw.do_normalize, true),
    mean: triple(raw.image_mean),
    std: triple(raw.image_std),
  };
}

/** The resize steps of one image: its size after each, and the grid of tiles (0 x 0: the image alone). */
export interface Idefics3Layout {
  readonly resized: { readonly width: number; readonly height: number };
  readonly split: { readonly width: number; readonly height: number };
  readonly rows: number;
  readonly cols: number;
}

/** Longest edge to `max` (aspect kept, the other side truncated then made even), then below MAX_SIDE. */
function longestEdgeSize(width: number, height: number, max: number): { width: number; height: number } {
  const aspect = width / height;
  let w: number;
  let h: number;
  if (width >= height) {
    w = max;
    h = Math.trunc(w / aspect);
    if (h % 2 !== 0) h++;
  } else {
    h = max;
    w = Math.trunc(h * aspect);
    if (w % 2 !== 0) w++;
  }
  h = Math.max(h, 1);
  w = Math.max(w, 1);
  const a2 = w / h;
  if (w >= h && w > MAX_SIDE) {
    w = MAX_SIDE;
    h = Math.trunc(w / a2);
  } else if (h > w && h > MAX_SIDE) {
    h = MAX_SIDE;
    w = Math.trunc(h * a2);
  }
  return { width: Math.max(w, 1), height: Math.max(h, 1) };
}

/** Both sides up to multiples of the tile size (resize_for_vision_encoder). */
function tileMultipleSize(width: number, height: number, tile: number): { width: number; height: number } {
  const aspect = width / height;
  if (width >= height) {
    const w = Math.ceil(width / tile) * tile;
    return { width: w, height: Math.ceil(Math.trunc(w / aspect) / tile) * tile };
  }
  const h = Math.ceil(height / tile) * tile;
  return { width: Math.ceil(Math.trunc(h * aspect) / tile) * tile, height: h };
}

/** The sizes Idefics3ImageProcessor resizes an image of width x height to, and its tile grid. */
export function idefics3Layout(width: number, height: number, cfg: Idefics3PreprocessConfig): Idefics3Layout {
  if (!(width > 0 && height > 0)) throw new InvalidModelError(`an image of ${width} x ${height} pixels cannot be preprocessed`);
  const resized = cfg.doResize ? longestEdgeSize(width, height, cfg.longestEdge) : { width, height };
  if (!cfg.doImageSplitting) return { resized, split: { width: cfg.tileSize, height: cfg.tileSize }, rows: 0, cols: 0 };
  const split = tileMultipleSize(resized.width, resized.height, cfg.tileSize);
  const t = cfg.tileSize;
  if (split.width <= t && split.height <= t) return { resized, split, rows: 0, cols: 0 };
  return { resized, split, rows: Math.floor((split.height - t) / t) + 1, cols: Math.floor((split.width - t) / t) + 1 };
}

/** Tiles of one image: pixels [n, 3, S, S] (S = tileSize), the rows x cols tiles row by row, then the whole image. */
export interface Idefics3Tiles {
  readonly pixels: Float32Array;
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
}

/**
 * Idefics3ImageProcessor on one image: RGB, the longest edge resized, both sides up to tile multiples, cut
 * into tiles plus the whole image resized to one tile (every resize on 8-bit pixels, as Pillow does
 * them), then rescale and normalize.
 */
export function idefics3Preprocess(img: RgbaImage, cfg: Idefics3PreprocessConfig): Idefics3Tiles {
  const layout = idefics3Layout(img.width, img.height, cfg);
  const { resized } = layout;
  return idefics3Tiles(resizeRgb8(rgbaToRgb(img), img.width, img.height, resized.width, resized.height, cfg.filter, cfg.precision), layout, cfg);
}

/** The steps after the first resize: rgb [resized.height, resized.width, 3] → the tiles, normalised. */
export function idefics3Tiles(resizedRgb: Uint8Array, layout: Idefics3Layout, cfg: Idefics3PreprocessConfig): Idefics3Tiles {
  const resize = (rgb: Uint8Array, w: number, h: number, ow: number, oh: number) => resizeRgb8(rgb, w, h, ow, oh, cfg.filter, cfg.precision);
  const { resized, split, rows, cols } = layout;
  const rgb = resize(resizedRgb, resized.width, resized.height, split.width, split.height);
  const S = cfg.tileSize;
  const count = rows * cols + 1;
  const pixels = new Float32Array(count * 3 * S * S);
  const scale = cfg.doRescale ? cfg.rescaleFactor : 1;
  const put = (tile: number, src: Uint8Array, srcW: number, x0: number, y0: number) => {
    for (let c = 0; c < 3; c++) {
      const mean = cfg.doNormalize ? cfg.mean[c]! : 0;
      const std = cfg.doNormalize ? cfg.std[c]! : 1;
      const base = (tile * 3 + c) * S * S;
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) pixels[base + y * S + x] = (src[((y0 + y) * srcW + x0 + x) * 3 + c]! * scale - mean) / std;
      }
    }
  };
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) put(r * cols + c, rgb, split.width, c * S, r * S);
  put(count - 1, resize(rgb, split.width, split.height, S, S), S, 0, 0);
  return { pixels, count, rows, cols };
}

/**
 * The text Idefics3Processor puts in place of one `<image>`: per tile `<fake_token_around_image><row_r_col_c>`
 * and seqLen image tokens, a newline after each row; then a newline and the global image between fake tokens.
 */
export function idefics3ImagePrompt(rows: number, cols: number, seqLen: number, imageToken = '<image>'): string {
  const fake = '<fake_token_around_image>';
  const image = imageToken.repeat(seqLen);
  let s = '';
  if (rows > 0 || cols > 0) {
    for (let r = 1; r <= rows; r++) {
      for (let c = 1; c <= cols; c++) s += `${fake}<row_${r}_col_${c}>${image}`;
      s += '\n';
    }
    s += '\n';
  }
  return `${s}${fake}<global-img>${image}${fake}`;
}
