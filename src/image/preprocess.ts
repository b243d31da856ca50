import { InvalidModelError } from '../errors.js';
import { PIL_RESAMPLE, resizeRgb8, type ResampleFilter, type ResamplePrecision } from './resize.js';

/** A decoded image: 8-bit RGBA rows, top to bottom (what canvas getImageData, pngjs and jpeg-js give). */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint8ClampedArray; // [height, width, 4]
}

/** preprocessor_config.json of a CLIP-style image processor (CLIPImageProcessor and the many that copy it). */
export interface ClipPreprocessConfig {
  readonly doResize: boolean;
  /** Resize so the shorter side is `shortestEdge` (aspect kept), or to exactly height x width. */
  readonly size: { readonly shortestEdge: number } | { readonly height: number; readonly width: number };
  readonly filter: ResampleFilter;
  readonly precision: ResamplePrecision;
  readonly doCenterCrop: boolean;
  readonly cropSize: { readonly height: number; readonly width: number };
  readonly doRescale: boolean;
  readonly rescaleFactor: number;
  readonly doNormalize: boolean;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  readonly doConvertRgb: boolean;
}

export const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/**
 * Reads preprocessor_config.json (transformers' defaults of CLIPImageProcessor where a key is absent).
 * `image_processor_type` ending in `Pil` selects Pillow's resize weights, anything else the torchvision
 * backend's (transformers 5 loads `CLIPImageProcessor` as the torchvision one), see src/image/resize.ts.
 */
export function clipPreprocessConfig(raw: Readonly<Record<string, unknown>>, where = 'preprocessor_config.json', fallbackSize = 224): ClipPreprocessConfig {
  const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : d);
  const bool = (v: unknown, d: boolean) => (typeof v === 'boolean' ? v : d);
  const triple = (v: unknown, d: readonly [number, number, number]): [number, number, number] => {
    if (typeof v === 'number') return [v, v, v];
    if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) return v as [number, number, number];
    return [...d];
  };
  const sizeOf = (v: unknown, d: number) => {
    if (typeof v === 'number') return { height: v, width: v };
    const o = (v ?? {}) as Record<string, unknown>;
    if (typeof o.height === 'number' && typeof o.width === 'number') return { height: o.height, width: o.width };
    if (typeof o.shortest_edge === 'number') return { height: o.shortest_edge, width: o.shortest_edge };
    return { height: d, width: d };
  };
  const s = raw.size as Record<string, unknown> | number | undefined;
  let size: ClipPreprocessConfig['size'];
  if (typeof s === 'number') size = { shortestEdge: s };
  else if (s && typeof s.shortest_edge === 'number') size = { shortestEdge: s.shortest_edge };
  else if (s && typeof s.height === 'number' && typeof s.width === 'number') size = { height: s.height, width: s.width };
  else if (s === undefined) size = { shortestEdge: fallbackSize };
  else throw new InvalidModelError(`${where}: size ${JSON.stringify(s)} is not supported (shortest_edge, or height and width)`);
  const code = num(raw.resample, 3);
  let filter = PIL_RESAMPLE[code];
  if (!filter) throw new InvalidModelError(`${where}: resample ${code} is not supported (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)`);
  const pil = typeof raw.image_processor_type === 'string' && /Pil$/.test(raw.image_processor_type);
  // The torchvision backend resizes with bilinear or bicubic only (transformers maps lanczos to bicubic).
  if (!pil && filter === 'lanczos') filter = 'bicubic';
  return {
    doResize: bool(raw.do_resize, true),
    size,
    filter,
    precision: pil || (filter !== 'bicubic' && filter !== 'bilinear') ? 'pil' : 'torch',
    doCenterCrop: bool(raw.do_center_crop, true),
    cropSize: sizeOf(raw.crop_size, fallbackSize),
    doRescale: bool(raw.do_rescale, true),
    rescaleFactor: num(raw.rescale_factor, 1 / 255),
    doNormalize: bool(raw.do_normalize, true),
    mean: triple(raw.image_mean, OPENAI_CLIP_MEAN),
    std: triple(raw.image_std, OPENAI_CLIP_STD),
    doConvertRgb: bool(raw.do_convert_rgb, true),
  };
}

/**
 * RGBA → RGB as transformers' convert_to_rgb does it for an image with alpha: composited over white with
 * Pillow's alpha_composite arithmetic (7-bit coefficients). Opaque pixels keep their values.
 */
export function rgbaToRgb(img: RgbaImage): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  const d = img.data;
  const div255 = (a: number) => (((a >> 8) + a) >> 8) >> 7;
  for (let i = 0; i < n; i++) {
    const a = d[i * 4 + 3]!;
    for (let c = 0; c < 3; c++) {
      const v = d[i * 4 + c]!;
      if (a === 255) out[i * 3 + c] = v;
      else if (a === 0) out[i * 3 + c] = 255;
      else {
        const coef1 = a * 128;
        const coef2 = 255 * 128 - coef1;
        out[i * 3 + c] = div255(v * coef1 + 255 * coef2 + (0x80 << 7));
      }
    }
  }
  return out;
}

/** Output size of transformers' get_resize_output_image_size (shortest edge, aspect kept, truncated). */
export function resizeOutputSize(width: number, height: number, size: ClipPreprocessConfig['size']): { width: number; height: number } {
  if ('height' in size) return { width: size.width, height: size.height };
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const newShort = size.shortestEdge;
  const newLong = Math.trunc((newShort * long) / short);
  return width <= height ? { width: newShort, height: newLong } : { width: newLong, height: newShort };
}

/**
 * pixel_values [3, H, W] f32 of one image: convert to RGB, resize, center crop (padding with zeros where
 * the image is smaller than the crop), rescale, normalize; the steps and order of CLIPImageProcessor.
 */
export function clipPreprocess(img: RgbaImage, cfg: ClipPreprocessConfig): { pixels: Float32Array; width: number; height: number } {
  if (!(img.width > 0 && img.height > 0)) throw new InvalidModelError(`an image of ${img.width} x ${img.height} pixels cannot be preprocessed`);
  let rgb = rgbaToRgb(img);
  let w = img.width;
  let h = img.height;
  if (cfg.doResize) {
    const o = resizeOutputSize(w, h, cfg.size);
    rgb = resizeRgb8(rgb, w, h, o.width, o.height, cfg.filter, cfg.precision);
    w = o.width;
    h = o.height;
  }
  return cropNormalize(rgb, w, h, cfg);
}

/** The steps after the resize: center crop (zero padding where the image is smaller), rescale, normalize → [3, H, W]. */
export function cropNormalize(rgb: Uint8Array, w: number, h: number, cfg: ClipPreprocessConfig): { pixels: Float32Array; width: number; height: number } {
  let x0 = 0;
  let y0 = 0;
  let outW = w;
  let outH = h;
  if (cfg.doCenterCrop) {
    outW = cfg.cropSize.width;
    outH = cfg.cropSize.height;
    // torchvision pads a smaller image ((crop - size) // 2 before), then crops int((size - crop) / 2).
    x0 = outW > w ? -Math.floor((outW - w) / 2) : Math.trunc((w - outW) / 2);
    y0 = outH > h ? -Math.floor((outH - h) / 2) : Math.trunc((h - outH) / 2);
  }
  const pixels = new Float32Array(3 * outH * outW);
  const scale = cfg.doRescale ? cfg.rescaleFactor : 1;
  for (let c = 0; c < 3; c++) {
    const mean = cfg.doNormalize ? cfg.mean[c]! : 0;
    const std = cfg.doNormalize ? cfg.std[c]! : 1;
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        const sx = x + x0;
        const sy = y + y0;
        const v = sx >= 0 && sx < w && sy >= 0 && sy < h ? rgb[(sy * w + sx) * 3 + c]! : 0;
        pixels[(c * outH + y) * outW + x] = (v * scale - mean) / std;
      }
    }
  }
  return { pixels, width: outW, height: outH };
}
