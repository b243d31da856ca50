import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { InvalidImageError } from '../errors.js';
import type { RgbaImage } from '../image/preprocess.js';

/** Most pixels a decoded image may have in Node (jpeg-js's own guard is 100 megapixels). */
const MAX_MEGAPIXELS = 100;

/**
 * PNG or JPEG bytes → RGBA pixels in Node, in pure JavaScript: pngjs (any bit depth, palette, interlace;
 * 16-bit scaled to 8) and jpeg-js (baseline and progressive). The format is told by its signature.
 */
export async function decodeImageNode(bytes: Uint8Array): Promise<RgbaImage> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const png = buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47 && buf.readUInt32BE(4) === 0x0d0a1a0a;
  const jpg = buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
  try {
    if (png) {
      const img = PNG.sync.read(buf);
      return { width: img.width, height: img.height, data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength) };
    }
    if (jpg) {
      const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_MEGAPIXELS });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (cause) {
    throw new InvalidImageError(`the ${png ? 'PNG' : 'JPEG'} image could not be decoded: ${(cause as Error).message}`, { cause });
  }
  throw new InvalidImageError(
    `the image is neither PNG nor JPEG (first bytes ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')}); in Node weblm decodes PNG and JPEG`,
  );
}

/** An image file's bytes from a path or a file: URL (InvalidImageError when it cannot be read). */
export async function readImageFile(pathOrUrl: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(/^file:/i.test(pathOrUrl) ? fileURLToPath(pathOrUrl) : pathOrUrl));
  } catch (cause) {
    throw new InvalidImageError(`the image file ${pathOrUrl} could not be read: ${(cause as Error).message}`, { cause });
  }
}
