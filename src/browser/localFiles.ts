import { InvalidArgumentError, InvalidModelError, ModelNotFoundError } from '../errors.js';
import type { ByteSource, ModelFiles } from '../weights/files.js';

/** One file of a model held in memory or on disk by the browser: its path in the model folder and its bytes. */
export interface LocalFile {
  /** Relative to the model folder: `config.json`, `subdir/model.safetensors`. */
  readonly path: string;
  readonly blob: Blob;
}

/**
 * The files of `<input type="file" webkitdirectory>`, with paths relative to the picked folder (its
 * top-level name dropped from `webkitRelativePath`). Blobs are structured-cloneable: the list can be
 * posted to the engine's worker as `{ blobs }`.
 */
export function pickedFolder(files: Iterable<File>): LocalFile[] {
  return [...files].map((f) => {
    const rel = f.webkitRelativePath || f.name;
    const slash = rel.indexOf('/');
    return { path: slash >= 0 ? rel.slice(slash + 1) : rel, blob: f };
  });
}

/** ModelFiles over Blobs (Files picked by the user, or bytes built in memory): range reads with `Blob.slice`. */
export function localFiles(files: readonly LocalFile[], location = 'local folder'): ModelFiles {
  const byPath = new Map<string, Blob>();
  for (const f of files) {
    if (!f || typeof f.path !== 'string' || !(f.blob instanceof Blob)) throw new InvalidArgumentError('a local file is { path: string, blob: Blob }');
    byPath.set(f.path.replace(/^\.?\//, ''), f.blob);
  }
  const get = (path: string): Blob => {
    const blob = byPath.get(path);
    if (!blob) throw new ModelNotFoundError(`${location}/${path}: no such file in the picked folder`);
    return blob;
  };
  return {
    location,
    async has(path) {
      return byPath.has(path);
    },
    async open(path): Promise<ByteSource> {
      const blob = get(path);
      return {
        size: blob.size,
        async read(offset, length) {
          if (offset < 0 || length < 0 || offset + length > blob.size) {
            throw new InvalidModelError(`${location}/${path}: bytes ${offset}..${offset + length} pass the end of the file (${blob.size} bytes)`);
          }
          return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
        },
      };
    },
    async text(path) {
      return get(path).text();
    },
    async list() {
      return [...byPath.keys()];
    },
  };
}
