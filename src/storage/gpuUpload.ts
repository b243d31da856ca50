import { GpuOutOfMemoryError, InvalidArgumentError } from '../errors.js';
import type { ByteSource } from '../weights/files.js';

export interface StreamUploadOptions {
  /** Bytes read from the source and written per step (default 8 MB): the host memory this holds. */
  chunkBytes?: number;
  /** A part never passes this (default device.limits.maxStorageBufferBindingSize). */
  maxPartBytes?: number;
  /** Parts split only between rows of this many bytes (a matrix row, whole quant blocks). Default 4. */
  rowBytes?: number;
  label?: string;
  usage?: GPUBufferUsageFlags;
  /**
   * Writes are submitted every this many bytes and at most two such windows are in flight (default 64 MB):
   * the driver's staging memory stays bounded and is reused. 0: never wait.
   */
  windowBytes?: number;
}

/** One GPU buffer of a streamed tensor: `rows` whole rows starting at row `firstRow`. */
export interface UploadedPart {
  buffer: GPUBuffer;
  byteLength: number;
  firstRow: number;
  rows: number;
}

/**
 * Streams bytes [begin, begin + length) of a ByteSource (a cached file in IndexedDB, a URL, a local file)
 * into GPU storage buffers, `chunkBytes` at a time, so host memory stays at about one chunk whatever the
 * tensor size. A tensor larger than one binding is split at row boundaries into several buffers. Reads run
 * one chunk ahead of the write, and writes are paced in windows (`windowBytes`).
 */
export async function uploadStreamed(
  device: GPUDevice,
  src: ByteSource,
  begin: number,
  length: number,
  opts: StreamUploadOptions = {},
): Promise<UploadedPart[]> {
  const rowBytes = opts.rowBytes ?? 4;
  const chunkBytes = Math.max(4, Math.floor((opts.chunkBytes ?? 8 << 20) / 4) * 4);
  const maxPart = opts.maxPartBytes ?? device.limits.maxStorageBufferBindingSize;
  if (length % rowBytes !== 0) throw new InvalidArgumentError(`${opts.label ?? 'tensor'}: ${length} bytes are not whole rows of ${rowBytes}`);
  const rowsPerPart = Math.floor(maxPart / rowBytes);
  if (rowsPerPart < 1) throw new GpuOutOfMemoryError(`${opts.label ?? 'tensor'}: one row of ${rowBytes} bytes exceeds the largest binding (${maxPart} bytes)`);
  const totalRows = length / rowBytes;
  const parts: UploadedPart[] = [];
  const window = opts.windowBytes ?? 64 << 20;
  let sinceSubmit = 0;
  let inFlight: Promise<unknown> | undefined;
  const pace = async (n: number) => {
    sinceSubmit += n;
    if (window <= 0 || sinceSubmit < window) return;
    sinceSubmit = 0;
    device.queue.submit([]);
    const before = inFlight;
    inFlight = device.queue.onSubmittedWorkDone();
    await before;
  };
  let ahead: Promise<Uint8Array> | undefined;
  try {
    for (let firstRow = 0; firstRow < totalRows || (totalRows === 0 && parts.length === 0); firstRow += rowsPerPart) {
      const rows = Math.min(rowsPerPart, totalRows - firstRow);
      const byteLength = rows * rowBytes;
      const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
      if (size > device.limits.maxBufferSize)
        throw new GpuOutOfMemoryError(`${opts.label ?? 'tensor'}: a part of ${size} bytes exceeds maxBufferSize ${device.limits.maxBufferSize}`);
      const buffer = device.createBuffer({
        size,
        usage: opts.usage ?? GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
        label: parts.length || rows < totalRows ? `${opts.label ?? 'tensor'}[${parts.length}]` : opts.label,
      });
      parts.push({ buffer, byteLength, firstRow, rows });
      const start = begin + firstRow * rowBytes;
      const read = (at: number) => (at < byteLength ? src.read(start + at, Math.min(chunkBytes, byteLength - at)) : undefined);
      ahead = read(0);
      for (let at = 0; at < byteLength; at += chunkBytes) {
        const bytes = await ahead!;
        ahead = read(at + chunkBytes);
        ahead?.catch(() => {}); // a failed read ahead is reported when it is reached (or not at all after an earlier failure)
        // writeBuffer takes multiples of 4 bytes: the tail of a part is zero-padded.
        const data = bytes.byteLength % 4 === 0 ? bytes : padded(bytes);
        device.queue.writeBuffer(buffer, at, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
        await pace(data.byteLength);
      }
      if (totalRows === 0) break;
    }
  } catch (e) {
    for (const p of parts) p.buffer.destroy();
    throw e;
  }
  return parts;
}

function padded(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(b.byteLength / 4) * 4);
  out.set(b);
  return out;
}
