import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { params } from '../gpu/params.js';
import { numel, type Tensor } from '../gpu/tensor.js';
import type { RgbaImage } from '../image/preprocess.js';
import { resampleCoefficients, type ResampleFilter, type ResamplePrecision } from '../image/resize.js';

const WG = 64;

/** Coefficients of one axis as the shader reads them: [out, 2 + k] i32 rows of (start, count, k weights). */
export function packedCoefficients(
  inSize: number,
  outSize: number,
  filter: ResampleFilter,
  precision: ResamplePrecision,
): { data: Int32Array; k: number; precision: number } {
  const c = resampleCoefficients(inSize, outSize, filter, precision);
  const data = new Int32Array(outSize * (2 + c.k));
  for (let i = 0; i < outSize; i++) {
    data[i * (2 + c.k)] = c.start[i]!;
    data[i * (2 + c.k) + 1] = c.count[i]!;
    data.set(c.weights.subarray(i * c.k, (i + 1) * c.k), i * (2 + c.k) + 2);
  }
  return { data, k: c.k, precision: c.precision };
}

/**
 * One resampling pass (shaders/resample.wgsl): src [other, inN] (horizontal) or [inN, other] (vertical)
 * packed pixels (u32: r | g << 8 | b << 16, and alpha in the top byte when `alpha`) → dst packed RGB
 * [other, outN] or [outN, other]. coef: packedCoefficients(...).data on the GPU.
 */
export function resamplePass(
  ctx: GpuContext,
  src: Tensor,
  coef: Tensor,
  dst: Tensor,
  o: {
    readonly horizontal: boolean;
    readonly alpha: boolean;
    readonly inN: number;
    readonly outN: number;
    readonly other: number;
    readonly k: number;
    readonly precision: number;
  },
): void {
  if (src.dtype !== 'u32' || dst.dtype !== 'u32' || coef.dtype !== 'i32') throw new InvalidArgumentError('resample: pixels are u32, coefficients i32');
  if (numel(src.shape) !== o.inN * o.other || numel(dst.shape) !== o.outN * o.other || numel(coef.shape) !== o.outN * (2 + o.k)) {
    throw new InvalidArgumentError(`resample: src [${src.shape}], dst [${dst.shape}], coef [${coef.shape}] do not match ${o.inN} → ${o.outN} x ${o.other}`);
  }
  if (!(o.precision >= 1 && o.precision <= 22)) throw new InvalidArgumentError(`resample: precision ${o.precision} is outside 1..22`);
  if (o.other > ctx.limits.maxComputeWorkgroupsPerDimension) throw new InvalidArgumentError(`resample: ${o.other} lines exceed the grid limit`);
  ctx.dispatch(
    { shader: 'resample', defines: { HORIZONTAL: o.horizontal, ALPHA: o.alpha }, layout: ['uniform', 'read', 'read', 'storage'] },
    [src, coef, dst],
    [Math.ceil(o.outN / WG), o.other],
    params().u32(o.outN).u32(o.other).u32(o.inN).u32(o.k).u32(o.precision),
  );
}

/** Whether resizeRgbaGpu takes this image: its RGBA fits one storage binding and its rows the grid. */
export function gpuResizeFits(ctx: GpuContext, img: RgbaImage, outW: number): boolean {
  const max = ctx.limits.maxStorageBufferBindingSize;
  const lim = ctx.limits.maxComputeWorkgroupsPerDimension;
  return img.width * img.height * 4 <= max && img.height * outW * 4 <= max && img.height <= lim && outW <= lim;
}

/**
 * RGBA [h, w, 4] → resized RGB [outH, outW, 3] on the GPU, bit for bit what src/image/resize.ts computes
 * after rgbaToRgb (alpha composited over white in the first pass). Submits and reads back.
 */
export async function resizeRgbaGpu(
  ctx: GpuContext,
  img: RgbaImage,
  outW: number,
  outH: number,
  filter: ResampleFilter,
  precision: ResamplePrecision,
): Promise<Uint8Array> {
  const { width: w, height: h } = img;
  const bytes = img.data.byteOffset % 4 === 0 ? img.data : img.data.slice();
  const px = new Uint32Array(bytes.buffer, bytes.byteOffset, w * h);
  const created: Tensor[] = [];
  const t = <T extends Tensor>(x: T) => (created.push(x), x);
  try {
    let cur = t(ctx.upload(px, [h, w], 'u32', 'resize.in'));
    let alpha = true;
    if (outW !== w) {
      const c = packedCoefficients(w, outW, filter, precision);
      const out = t(ctx.createTensor([h, outW], 'u32', 'resize.h'));
      resamplePass(ctx, cur, t(ctx.upload(c.data, [outW, 2 + c.k], 'i32', 'resize.coef.x')), out, {
        horizontal: true,
        alpha,
        inN: w,
        outN: outW,
        other: h,
        k: c.k,
        precision: c.precision,
      });
      cur = out;
      alpha = false;
    }
    if (outH !== h || alpha) {
      const c = packedCoefficients(h, outH, filter, precision);
      const out = t(ctx.createTensor([outH, outW], 'u32', 'resize.v'));
      resamplePass(ctx, cur, t(ctx.upload(c.data, [outH, 2 + c.k], 'i32', 'resize.coef.y')), out, {
        horizontal: false,
        alpha,
        inN: h,
        outN: outH,
        other: outW,
        k: c.k,
        precision: c.precision,
      });
      cur = out;
    }
    const packed = new Uint32Array(await ctx.read(cur));
    const rgb = new Uint8Array(outW * outH * 3);
    for (let i = 0; i < outW * outH; i++) {
      const v = packed[i]!;
      rgb[i * 3] = v & 255;
      rgb[i * 3 + 1] = (v >>> 8) & 255;
      rgb[i * 3 + 2] = (v >>> 16) & 255;
    }
    return rgb;
  } finally {
    for (const x of created) ctx.destroyBuffer(x.buffer);
  }
}
