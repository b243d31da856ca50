import { open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidModelError, ModelNotFoundError } from '../errors.js';
import type { ByteSource, ModelFiles } from '../weights/files.js';

/** The files of a model in a local folder. */
export function folderFiles(dir: string): ModelFiles {
  const root = resolve(dir);
  const full = (path: string) => join(root, path);
  const missing = (path: string, cause?: unknown) => new ModelNotFoundError(`${full(path)}: no such file in the model folder ${root}`, { cause });
  const opened = new Set<ByteSource>();
  return {
    location: root,
    async has(path) {
      try {
        return (await stat(full(path))).isFile();
      } catch {
        return false;
      }
    },
    async open(path): Promise<ByteSource> {
      let size: number;
      try {
        size = (await stat(full(path))).size;
      } catch (cause) {
        throw missing(path, cause);
      }
      const source = openedFile(full(path), size);
      opened.add(source);
      return source;
    },
    async text(path) {
      try {
        return await readFile(full(path), 'utf8');
      } catch (cause) {
        throw missing(path, cause);
      }
    },
    async list() {
      try {
        return (await readdir(root, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
      } catch (cause) {
        throw new ModelNotFoundError(`${root}: no such model folder`, { cause });
      }
    },
    async close() {
      await Promise.all([...opened].map((f) => f.close!()));
    },
  };
}

/** A file's handle left without reads this long is closed (the next read opens it again), should nobody call `close`. */
const IDLE_CLOSE_MS = 2000;

/**
 * A file of `size` bytes read by ranges through one handle, opened at the first read and kept open (a load
 * reads thousands of ranges) until `close` or until it sits idle; a read after that opens the file again.
 */
function openedFile(path: string, size: number): ByteSource {
  let handle: Promise<FileHandle> | undefined;
  let reading = 0;
  let idle: ReturnType<typeof setTimeout> | undefined;
  const fileHandle = () => {
    if (!handle) {
      const h = open(path, 'r');
      h.catch(() => handle === h && (handle = undefined)); // a failed open is tried again by the next read
      handle = h;
    }
    return handle;
  };
  const close = async () => {
    clearTimeout(idle);
    const h = handle;
    handle = undefined;
    // FileHandle.close waits for the reads in flight on it.
    if (h) await (await h.catch(() => undefined))?.close();
  };
  const checkRange = (offset: number, length: number) => {
    if (offset < 0 || offset + length > size) {
      throw new InvalidModelError(`${path}: bytes ${offset}..${offset + length} pass the end of the file (${size} bytes)`);
    }
  };
  const readInto = async (offset: number, target: Uint8Array): Promise<void> => {
    const length = target.byteLength;
    checkRange(offset, length);
    clearTimeout(idle);
    reading++;
    try {
      const fh = await fileHandle();
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(target, done, length - done, offset + done);
        if (bytesRead === 0) throw new InvalidModelError(`${path}: file shrank while reading (truncated)`);
        done += bytesRead;
      }
    } finally {
      if (--reading === 0) idle = setTimeout(() => void close().catch(() => {}), IDLE_CLOSE_MS).unref();
    }
  };
  return {
    size,
    async read(offset, length) {
      checkRange(offset, length);
      // Memory the read fills whole: not zeroed first (a plain Uint8Array over its own ArrayBuffer).
      const out = new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
      await readInto(offset, out);
      return out;
    },
    readInto,
    close,
  };
}
