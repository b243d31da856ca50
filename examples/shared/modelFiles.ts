// Build-time code of the demo's bundled models (examples/chat/vite.config.ts for the chat's, under `model/`;
// examples/vqa/vitePlugin.ts for the VQA page's, under `vqa-model/`): which folder ships, and its files served
// by the dev server and emitted into the build.
import { existsSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { BundledModelSource } from '../chat/bundledModel.js';

/**
 * The first of `sources` whose folder (under `repo`) holds a config.json, or the one `pinned` names (an
 * environment variable the e2e tests set); throws naming them all. `what` and `listName` word the error.
 */
export function pickModelSource<S extends BundledModelSource>(
  repo: string,
  sources: readonly S[],
  pinned: string | undefined,
  what: string,
  listName: string,
): S {
  const source = sources.find((s) => (pinned ? s.dir === pinned : true) && existsSync(join(repo, s.dir, 'config.json')));
  if (!source) throw new Error(`no ${what}: ${pinned ? `${pinned} is not one of ${listName}, or` : 'none of'} ${sources.map((s) => s.dir).join(', ')} exists`);
  return source;
}

/** Answers a dev-server request for `/<dir>/<path>` from `files`; false where it asks for something else. */
export function serveModelFile(url: string, dir: string, files: ReadonlyMap<string, Uint8Array>, res: ServerResponse): boolean {
  const m = new RegExp(`^/${dir}/([^?#]+)`).exec(url);
  const body = m ? files.get(decodeURIComponent(m[1]!)) : undefined;
  if (!body) return false;
  res.setHeader('Content-Type', m![1]!.endsWith('.json') ? 'application/json' : 'application/octet-stream');
  res.setHeader('Content-Length', String(body.byteLength));
  res.end(body);
  return true;
}

/** The files into the build, under `dir`/ (a rollup plugin's generateBundle passes its emitFile). */
export function emitModelFiles(
  emitFile: (f: { type: 'asset'; fileName: string; source: Uint8Array }) => unknown,
  dir: string,
  files: ReadonlyMap<string, Uint8Array>,
): void {
  for (const [path, source] of files) emitFile({ type: 'asset', fileName: `${dir}/${path}`, source });
}
