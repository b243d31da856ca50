import { LocalEngine } from '../engine/localEngine.js';
import type { Engine } from '../engine/types.js';
import type { ModelFiles } from '../weights/files.js';
import { httpFiles } from '../weights/httpFiles.js';
import { folderFiles } from './folderFiles.js';
import { createNodeGpu } from './gpu.js';
import { decodeImageNode, readImageFile } from './imageDecode.js';

/** How the Node engine opens a model given as a string: an http(s) base URL, else a local folder. */
export async function openNodeSource(source: string, signal?: AbortSignal): Promise<ModelFiles> {
  return /^https?:\/\//i.test(source) ? httpFiles(source, { signal }) : folderFiles(source);
}

/**
 * The engine in this Node process over Dawn: `engine.load('path/to/folder')`, `'path/to/model.gguf'`,
 * a URL, or `{ files }`.
 */
export function createNodeEngine(): Engine {
  return new LocalEngine({ gpu: () => createNodeGpu(), openFiles: openNodeSource, decodeImage: decodeImageNode, readImageFile });
}
