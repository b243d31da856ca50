import { localFiles } from '../browser/localFiles.js';
import { InvalidArgumentError } from '../errors.js';
import type { ModelFiles } from '../weights/files.js';
import { httpFiles } from '../weights/httpFiles.js';
import type { ModelSource } from './types.js';

/**
 * The files of a model source: `{ files }` as given, `{ url }` over HTTP, and a string through the
 * platform's opener when there is one (a folder in Node), else as a base URL (relative to the page).
 */
export async function openModelSource(
  source: ModelSource,
  openFiles: ((source: string, signal?: AbortSignal) => Promise<ModelFiles>) | undefined,
  signal?: AbortSignal,
): Promise<ModelFiles> {
  if (typeof source === 'string') {
    if (source === '') throw new InvalidArgumentError('the model source is an empty string');
    return openFiles ? openFiles(source, signal) : httpFiles(absoluteUrl(source), { signal });
  }
  if (source && 'files' in source) return source.files;
  if (source && 'blobs' in source) return localFiles(source.blobs, source.name);
  if (source && 'url' in source) return httpFiles(absoluteUrl(source.url), { signal });
  throw new InvalidArgumentError('a model source is a URL or repo id string, { url }, { files } or { blobs }');
}

function absoluteUrl(url: string): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  try {
    return new URL(url, base).href;
  } catch {
    throw new InvalidArgumentError(`not a URL: ${url}`);
  }
}
