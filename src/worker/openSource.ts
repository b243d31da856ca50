import { cachedModelFiles, downloadModel } from '../storage/index.js';
import type { ModelFiles } from '../weights/files.js';
import { httpFiles } from '../weights/httpFiles.js';

/** `owner/name`: a Hugging Face repo id. A relative URL must start with './' or '/' to be read as one. */
const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/**
 * How the worker opens a model given as a string: a repo id is downloaded once into the IndexedDB chunk
 * store (resumable, checked) and read from there; anything else is a base URL, relative to the page.
 */
export async function openBrowserSource(source: string, signal?: AbortSignal): Promise<ModelFiles> {
  if (REPO_ID.test(source)) {
    await downloadModel(source, { signal });
    return cachedModelFiles(source);
  }
  return httpFiles(new URL(source, (globalThis as { location?: { href: string } }).location?.href).href, { signal });
}
