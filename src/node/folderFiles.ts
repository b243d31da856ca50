import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidModelError, ModelNotFoundError } from '../errors.js';
import type { ByteSource, ModelFiles } from '../weights/files.js';

/** The files of a model in a local folder. */
export function folderFiles(dir: string): ModelFiles {
  const root = resolve(dir);
  const full = (path: string) => join(root, path);
  const missing = (path: string, cause?: unknown) => new ModelNotFoundError(`${full(path)}: no such file in the model folder ${root}`, { cause });
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
      return {
        size,
        async read(offset, length) {
          if (offset < 0 || offset + length > size) {
            throw new InvalidModelError(`${full(path)}: bytes ${offset}..${offset + length} pass the end of the file (${size} bytes)`);
          }
          // Memory the read fills whole: not zeroed first (a plain Uint8Array over its own ArrayBuffer).
          const out = new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
          const fh = await open(full(path), 'r');
          try {
            let done = 0;
            while (done < length) {
              const { bytesRead } = await fh.read(out, done, length - done, offset + done);
              if (bytesRead === 0) throw new InvalidModelError(`${full(path)}: file shrank while reading (truncated)`);
              done += bytesRead;
            }
          } finally {
            await fh.close();
          }
          return out;
        },
      };
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
  };
}
