import { AbortError, ModelNotFoundError, NetworkError } from '../errors.js';
import { safetensorsShards } from '../weights/safetensors.js';

/** Where a repo is served from: the Hub (default), a mirror, or a local server in the Hub's layout. */
export interface HubOptions {
  /** Default https://huggingface.co; files are at `{baseUrl}/{repo}/resolve/{revision}/{path}`. */
  baseUrl?: string;
  /** Branch, tag or commit (default main). */
  revision?: string;
  /** The files to fetch; default: config.json, the safetensors weights (index and shards) and tokenizer files. */
  files?: readonly string[];
  headers?: Record<string, string>;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** A file of a repo on the server: its size, and the sha256 the Hub gives for LFS files. */
export interface RemoteFile {
  readonly path: string;
  readonly url: string;
  readonly size: number;
  readonly sha256?: string;
}

export const HUB_URL = 'https://huggingface.co';
const OPTIONAL_FILES = ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'preprocessor_config.json'];

export function resolveUrl(repo: string, path: string, o: HubOptions = {}): string {
  const base = (o.baseUrl ?? HUB_URL).replace(/\/$/, '');
  const rev = encodeURIComponent(o.revision ?? 'main');
  return `${base}/${repo.split('/').map(encodeURIComponent).join('/')}/resolve/${rev}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** fetch with typed errors: NetworkError for a failed connection, AbortError when aborted. */
export async function hubFetch(url: string, init: RequestInit, o: HubOptions): Promise<Response> {
  const doFetch = o.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  try {
    return await doFetch(url, { ...init, headers: { ...o.headers, ...(init.headers as Record<string, string>) }, signal: o.signal });
  } catch (cause) {
    if (o.signal?.aborted) throw new AbortError(`${url}: download aborted`, { cause });
    throw new NetworkError(`${url}: request failed (${(cause as Error).message})`, { cause });
  }
}

/** Size and sha256 of one file (HEAD); undefined when the server answers 404. */
export async function headFile(repo: string, path: string, o: HubOptions = {}): Promise<RemoteFile | undefined> {
  const url = resolveUrl(repo, path, o);
  const res = await hubFetch(url, { method: 'HEAD' }, o);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new NetworkError(`${url}: HTTP ${res.status} ${res.statusText}`);
  const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length'));
  if (!Number.isFinite(size) || size < 0) throw new NetworkError(`${url}: the server gave no file size (Content-Length)`);
  const etag = res.headers.get('x-linked-etag')?.replace(/^W\//, '').replace(/"/g, '');
  return { path, url, size, sha256: etag && /^[0-9a-f]{64}$/i.test(etag) ? etag.toLowerCase() : undefined };
}

async function required(repo: string, path: string, o: HubOptions): Promise<RemoteFile> {
  const f = await headFile(repo, path, o);
  if (!f) throw new ModelNotFoundError(`${resolveUrl(repo, path, o)}: not found (HTTP 404): no such repo, revision or file`);
  return f;
}

/**
 * The files of a repo to download: `o.files` when given; else config.json, model.safetensors (or the
 * shards of model.safetensors.index.json) and the tokenizer/generation files that exist.
 */
export async function listRepoFiles(repo: string, o: HubOptions = {}): Promise<RemoteFile[]> {
  if (o.files) return Promise.all(o.files.map((p) => required(repo, p, o)));
  const listed = await apiListing(repo, o);
  if (listed) return pickFiles(repo, listed, o);
  const config = await required(repo, 'config.json', o);
  const out = [config];
  const index = await headFile(repo, 'model.safetensors.index.json', o);
  if (index) {
    out.push(index, ...(await Promise.all((await indexShards(index.url, o)).map((p) => required(repo, p, o)))));
  } else {
    out.push(await required(repo, 'model.safetensors', o));
  }
  for (const f of await Promise.all(OPTIONAL_FILES.map((p) => headFile(repo, p, o)))) if (f) out.push(f);
  return out;
}

/** The shards a remote model.safetensors.index.json names. */
async function indexShards(url: string, o: HubOptions): Promise<string[]> {
  const res = await hubFetch(url, {}, o);
  if (!res.ok) throw new NetworkError(`${url}: HTTP ${res.status}`);
  return safetensorsShards(await res.text(), url);
}

interface Sibling {
  rfilename: string;
  size?: number;
  lfs?: { sha256?: string; size?: number };
}

/** The repo's files from the Hub API (`/api/models/{repo}/revision/{rev}?blobs=true`); undefined where there is no API (a plain mirror). */
async function apiListing(repo: string, o: HubOptions): Promise<Map<string, Sibling> | undefined> {
  const base = (o.baseUrl ?? HUB_URL).replace(/\/$/, '');
  const url = `${base}/api/models/${repo.split('/').map(encodeURIComponent).join('/')}/revision/${encodeURIComponent(o.revision ?? 'main')}?blobs=true`;
  let res: Response;
  try {
    res = await hubFetch(url, {}, o);
  } catch (e) {
    if (e instanceof AbortError) throw e;
    return undefined;
  }
  if (!res.ok) return void (await res.body?.cancel());
  try {
    const siblings = ((await res.json()) as { siblings?: Sibling[] }).siblings;
    return Array.isArray(siblings) ? new Map(siblings.map((s) => [s.rfilename, s])) : undefined;
  } catch {
    return undefined;
  }
}

/** The files to fetch among those listed; sizes and sha256 from the listing, else from HEAD. */
async function pickFiles(repo: string, listed: Map<string, Sibling>, o: HubOptions): Promise<RemoteFile[]> {
  const file = async (path: string): Promise<RemoteFile> => {
    const s = listed.get(path)!;
    const size = s.lfs?.size ?? s.size;
    if (size === undefined) return required(repo, path, o);
    const sha = s.lfs?.sha256?.toLowerCase();
    return { path, url: resolveUrl(repo, path, o), size, sha256: sha && /^[0-9a-f]{64}$/.test(sha) ? sha : undefined };
  };
  if (!listed.has('config.json')) throw new ModelNotFoundError(`${repo}@${o.revision ?? 'main'}: the repo has no config.json`);
  const paths = ['config.json'];
  if (listed.has('model.safetensors.index.json')) {
    const index = await file('model.safetensors.index.json');
    paths.push('model.safetensors.index.json', ...(await indexShards(index.url, o)));
  } else if (listed.has('model.safetensors')) {
    paths.push('model.safetensors');
  } else {
    throw new ModelNotFoundError(
      `${repo}@${o.revision ?? 'main'}: no model.safetensors or model.safetensors.index.json (for a GGUF repo, name the .gguf file in \`files\`)`,
    );
  }
  for (const p of paths.slice(1)) if (!listed.has(p)) throw new ModelNotFoundError(`${repo}: ${p} is listed in the index but not in the repo`);
  paths.push(...OPTIONAL_FILES.filter((p) => listed.has(p)));
  return Promise.all(paths.map(file));
}
