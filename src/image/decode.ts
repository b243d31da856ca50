import { InvalidArgumentError, InvalidImageError, NetworkError } from '../errors.js';
import type { ImageSource } from './source.js';
import type { RgbaImage } from './preprocess.js';

/** Encoded image bytes (PNG, JPEG, and in a browser whatever it decodes) → RGBA pixels. */
export type ImageBytesDecoder = (bytes: Uint8Array) => Promise<RgbaImage>;

/** Reads a local image file (a path or a file: URL): Node's engine passes one; a page has none. */
export type ImageFileReader = (pathOrFileUrl: string) => Promise<Uint8Array>;

type Drawable = ImageBitmap | OffscreenCanvas | CanvasImageSource;

/** Pixels of anything drawable, through an OffscreenCanvas (page or worker). */
function drawToRgba(src: Drawable, width: number, height: number): RgbaImage {
  if (typeof OffscreenCanvas === 'undefined')
    throw new InvalidArgumentError('decoding this image needs OffscreenCanvas (a browser); pass PNG or JPEG bytes instead');
  const canvas = new OffscreenCanvas(width, height);
  const g = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D | null;
  if (!g) throw new InvalidArgumentError('no 2d context on an OffscreenCanvas: the image cannot be read');
  g.drawImage(src as CanvasImageSource, 0, 0);
  const d = g.getImageData(0, 0, width, height);
  return { width, height, data: d.data };
}

/**
 * The browser's decoder: createImageBitmap (no color-space conversion, alpha not premultiplied) drawn on an
 * OffscreenCanvas. Works in pages and workers; PNG, JPEG, WebP, GIF (first frame), AVIF as the browser reads them.
 */
export const decodeImageBrowser: ImageBytesDecoder = async (bytes) => {
  if (typeof createImageBitmap === 'undefined') throw new InvalidArgumentError('no createImageBitmap here: pass a decoder for image bytes');
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (cause) {
    throw new InvalidImageError(`the image could not be decoded: ${(cause as Error).message}`, { cause });
  }
  try {
    return drawToRgba(bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
};

/** Bytes of a data URL (base64 or percent-encoded). */
export function dataUrlBytes(url: string): Uint8Array {
  const m = /^data:([^,]*?),(.*)$/s.exec(url);
  if (!m) throw new InvalidImageError('the data URL is malformed');
  const base64 = /;base64$/i.test(m[1]!);
  try {
    if (!base64) return new TextEncoder().encode(decodeURIComponent(m[2]!));
    const bin = atob(m[2]!.replace(/\s+/g, ''));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch (cause) {
    throw new InvalidImageError('the data URL does not hold valid base64', { cause });
  }
}

async function fetchBytes(url: string, signal?: AbortSignal): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (cause) {
    throw new NetworkError(`fetching the image ${url} failed: ${(cause as Error).message}`, { cause });
  }
  if (!res.ok) throw new NetworkError(`fetching the image ${url} failed: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

const isImageData = (x: unknown): x is ImageData =>
  typeof x === 'object' && x !== null && 'data' in x && 'width' in x && 'height' in x && (x as ImageData).data instanceof Uint8ClampedArray;

/**
 * RGBA pixels of an image as the API takes it: a data / http(s) URL (in Node also a file path or file: URL), bytes (Blob, ArrayBuffer, a typed
 * array) decoded by `decode`, ImageData as is, or anything drawable (ImageBitmap, canvas, <img>) through an
 * OffscreenCanvas.
 */
export async function imageToRgba(src: ImageSource | string, decode: ImageBytesDecoder, signal?: AbortSignal, readFile?: ImageFileReader): Promise<RgbaImage> {
  if (typeof src === 'string') {
    if (/^data:/i.test(src)) return decode(dataUrlBytes(src));
    if (readFile && !/^(https?|blob):/i.test(src)) return decode(await readFile(src)); // Node: a path or a file: URL
    const base = (globalThis as { location?: { href: string } }).location?.href;
    let url: URL;
    try {
      url = new URL(src, base);
    } catch {
      throw new InvalidArgumentError(`image_url ${src.slice(0, 80)} is neither a data URL nor a URL`);
    }
    if (!/^(https?|blob):$/.test(url.protocol)) throw new InvalidArgumentError(`image_url ${src.slice(0, 80)}: only data:, http(s): and blob: URLs are read`);
    return decode(await fetchBytes(url.href, signal));
  }
  if (typeof Blob !== 'undefined' && src instanceof Blob) return decode(new Uint8Array(await src.arrayBuffer()));
  if (src instanceof ArrayBuffer) return decode(new Uint8Array(src));
  if (ArrayBuffer.isView(src)) return decode(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
  if (isImageData(src)) return { width: src.width, height: src.height, data: src.data };
  const o = src as { width?: number; height?: number; naturalWidth?: number; naturalHeight?: number };
  const width = o.naturalWidth || o.width;
  const height = o.naturalHeight || o.height;
  if (typeof width !== 'number' || typeof height !== 'number' || !(width > 0 && height > 0)) {
    throw new InvalidArgumentError('an image must be a URL, PNG / JPEG bytes (Blob, ArrayBuffer, Uint8Array), ImageData, an ImageBitmap or a canvas / <img>');
  }
  return drawToRgba(src as Drawable, width, height);
}
