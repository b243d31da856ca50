import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, normalize } from 'node:path';

export interface HubFaults {
  /** Close the connection after sending this many body bytes of a GET (the next `dropTimes` GETs). */
  dropAfterBytes?: number;
  /** How many GETs are cut (default: every one while dropAfterBytes is set). */
  dropTimes?: number;
  /** Answer 200 with the whole file to Range requests (a server without Range support). */
  ignoreRange?: boolean;
  /** Announce a wrong sha256 in x-linked-etag. */
  wrongSha256?: boolean;
}

export interface HubRequest {
  method: string;
  path: string;
  range?: string;
}

export interface HubServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Every request, in order. */
  log: HubRequest[];
  /** Faults applied to the next requests; change them between calls. */
  faults: HubFaults;
  close(): Promise<void>;
}

export interface HubServerOptions {
  /** Folder whose subfolder `name` is the repo `{org}/{name}` (e.g. test/fixtures). */
  root: string;
  /** Extra files served as if they were in `{name}/{path}`: key `name/path`. */
  extra?: Record<string, Uint8Array>;
  /** Revisions served (default ['main']). */
  revisions?: string[];
  /** Files at least this big are LFS: HEAD and GET carry x-linked-size and x-linked-etag (sha256), like the Hub. */
  lfsMinBytes?: number;
  /** Serve the Hub API listing `/api/models/{org}/{name}/revision/{rev}` (default true; false: a plain mirror). */
  api?: boolean;
}

/**
 * A Hugging Face Hub look-alike on 127.0.0.1: `/{org}/{name}/resolve/{rev}/{path}` serves `root/name/path`
 * with HEAD, Range (206), 404, CORS, the Hub's LFS headers, the API's file listing, and injectable faults.
 */
export async function startHubServer(opts: HubServerOptions): Promise<HubServer> {
  const log: HubRequest[] = [];
  const faults: HubFaults = {};
  const shas = new Map<string, string>();
  const revisions = opts.revisions ?? ['main'];
  const load = async (name: string, path: string): Promise<Buffer | undefined> => {
    const key = `${name}/${path}`;
    if (opts.extra?.[key]) return Buffer.from(opts.extra[key]!);
    const full = normalize(join(opts.root, name, path));
    if (!full.startsWith(normalize(opts.root)) || path.includes('..')) return undefined;
    try {
      if (!(await stat(full)).isFile()) return undefined;
      return await readFile(full);
    } catch {
      return undefined;
    }
  };
  const hubApi = opts.api ?? true;
  const isLfs = (n: number) => n >= (opts.lfsMinBytes ?? Infinity);
  const shaOf = (key: string, body: Buffer) => {
    if (!shas.has(key)) shas.set(key, createHash('sha256').update(body).digest('hex'));
    return faults.wrongSha256 ? '0'.repeat(64) : shas.get(key)!;
  };
  /** The Hub API's siblings (with blobs=true: size, and lfs.sha256 for LFS files). */
  const listing = async (name: string) => {
    let names: string[];
    try {
      names = (await readdir(join(opts.root, name), { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
    } catch {
      return undefined;
    }
    for (const k of Object.keys(opts.extra ?? {})) if (k.startsWith(`${name}/`)) names.push(k.slice(name.length + 1));
    return Promise.all(
      [...new Set(names)].map(async (rfilename) => {
        const body = (await load(name, rfilename))!;
        const size = body.length;
        return isLfs(size) ? { rfilename, size, lfs: { sha256: shaOf(`${name}/${rfilename}`, body), size } } : { rfilename, size };
      }),
    );
  };
  const server: Server = createServer(async (req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Accept-Ranges, ETag, X-Linked-Size, X-Linked-Etag');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const url = new URL(req.url!, 'http://x');
    log.push({ method: req.method!, path: decodeURIComponent(url.pathname), range: req.headers.range });
    const api = /^\/api\/models\/([^/]+)\/([^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (api) {
      const siblings = hubApi && revisions.includes(decodeURIComponent(api[3]!)) ? await listing(decodeURIComponent(api[2]!)) : undefined;
      if (!siblings) return void res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"Repository not found"}');
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ id: `${api[1]}/${api[2]}`, siblings }));
    }
    const m = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const body = m && revisions.includes(decodeURIComponent(m[3]!)) ? await load(decodeURIComponent(m[2]!), decodeURIComponent(m[4]!)) : undefined;
    if (!body) return void res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Entry not found');
    if (isLfs(body.length)) {
      const sha = shaOf(`${decodeURIComponent(m![2]!)}/${decodeURIComponent(m![4]!)}`, body);
      res.setHeader('X-Linked-Size', String(body.length));
      res.setHeader('X-Linked-Etag', `"${sha}"`);
    }
    res.setHeader('Accept-Ranges', faults.ignoreRange ? 'none' : 'bytes');
    let status = 200;
    let part = body;
    const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
    if (range && !faults.ignoreRange) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
      if (start >= body.length) return void res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
      status = 206;
      part = body.subarray(start, end + 1);
      res.setHeader('Content-Range', `bytes ${start}-${end}/${body.length}`);
    }
    res.writeHead(status, { 'Content-Length': part.length, 'Content-Type': 'application/octet-stream' });
    if (req.method === 'HEAD') return void res.end();
    const drop = faults.dropAfterBytes;
    if (drop !== undefined && drop < part.length && (faults.dropTimes === undefined || faults.dropTimes > 0)) {
      if (faults.dropTimes !== undefined) faults.dropTimes--;
      res.write(part.subarray(0, drop), () => setTimeout(() => res.socket?.destroy(), 100));
      return;
    }
    res.end(part);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    faults,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
