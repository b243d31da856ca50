import { localFiles } from '../browser/localFiles.js';
import { InvalidArgumentError } from '../errors.js';
import type { ModelFiles } from '../weights/files.js';
import { httpFiles } from '../weights/httpFiles.js';
import type { ModelSource } from './types.js';

/** A model's files, and the .gguf file among them when the source names one. */
export interface OpenedSource {
  readonly files: ModelFiles;
  readonly gguf?: string;
}

type Opener = (source: string, signal?: AbortSignal) => Promise<ModelFiles>;

/**
 * The files of a model source: `{ files }` as given, `{ url }` over HTTP, and a string through the
 * platform's opener when there is one (a folder in Node), else as a base URL (relative to the page).
 * A URL or path ending in `.gguf` opens the file's folder and names the file.
 */
export async function openModelSource(source: ModelSource, openFiles: Opener | undefined, signal?: AbortSignal): Promise<OpenedSource> {
  if (typeof source === 'string') {
    if (source === '') throw new InvalidArgumentError('the model source is an empty string');
    if (openFiles) {
      const { folder, gguf } = splitGgufPath(source);
      return { files: await openFiles(folder, signal), gguf };
    }
    return openUrl(source, signal);
  }
  if (source && 'files' in source) {
    if (source.gguf !== undefined && typeof source.gguf !== 'string') throw new InvalidArgumentError('{ files, gguf }: gguf is the path of the .gguf file');
    return { files: source.files, gguf: source.gguf };
  }
  if (source && 'blobs' in source) return { files: localFiles(source.blobs, source.name) };
  if (source && 'url' in source) return openUrl(source.url, signal);
  throw new InvalidArgumentError('a model source is a URL or repo id string, { url }, { files } or { blobs }');
}

/** A base URL, or the URL of a .gguf file: its folder is the base and its name the file. */
function openUrl(url: string, signal?: AbortSignal): OpenedSource {
  const abs = absoluteUrl(url);
  const u = new URL(abs);
  if (!/\.gguf$/i.test(u.pathname)) return { files: httpFiles(abs, { signal }) };
  const name = u.pathname.slice(u.pathname.lastIndexOf('/') + 1);
  return { files: httpFiles(new URL('.', u).href, { signal }), gguf: name };
}

/** `dir/model.gguf` → the folder and the file name; any other string is the folder itself. */
function splitGgufPath(path: string): { folder: string; gguf?: string } {
  if (!/\.gguf$/i.test(path)) return { folder: path };
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return cut < 0 ? { folder: '.', gguf: path } : { folder: path.slice(0, cut) || '/', gguf: path.slice(cut + 1) };
}

function absoluteUrl(url: string): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  try {
    return new URL(url, base).href;
  } catch {
    throw new InvalidArgumentError(`not a URL: ${url}`);
  }
}
