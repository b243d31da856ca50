import { rgbaToRgb, type RgbaImage } from '../../image/preprocess.js';
import { resizeRgb8, type ResampleFilter, type ResamplePrecision } from '../../image/resize.js';

/** CPU reference of resizeRgbaGpu: alpha over white, then the two fixed-point passes of src/image/resize.ts. */
export function resizeRgbaRef(img: RgbaImage, outW: number, outH: number, filter: ResampleFilter, precision: ResamplePrecision): Uint8Array {
  return resizeRgb8(rgbaToRgb(img), img.width, img.height, outW, outH, filter, precision);
}
