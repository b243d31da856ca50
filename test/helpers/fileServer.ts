import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';

/** A file server of the e2e tests: its base URL (http://127.0.0.1:port, no trailing slash) and the server to close. */
export interface FileServer {
  readonly server: Server;
  readonly base: string;
}

/**
 * A static server on 127.0.0.1 (a free port) with CORS and Range (206, HEAD) for the pages of the e2e tests:
 * `body(path)` gives the bytes of a path (decoded, without its leading slash), or undefined for a 404.
 */
export async function serveFiles(body: (path: string) => Promise<Uint8Array | undefined>): Promise<FileServer> {
  const server = createServer(async (req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Accept-Ranges');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const bytes = await body(decodeURIComponent(new URL(req.url!, 'http://x').pathname).slice(1)).catch(() => undefined);
    if (!bytes) return void res.writeHead(404).end();
    res.setHeader('Accept-Ranges', 'bytes');
    const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${bytes.length}`, 'Content-Length': end - start + 1 });
      return void res.end(req.method === 'HEAD' ? undefined : bytes.subarray(start, end + 1));
    }
    res.writeHead(200, { 'Content-Length': bytes.length });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { server, base: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` };
}

/** serveFiles over one folder and its subfolders (nothing outside it). */
export function serveFolder(dir: string): Promise<FileServer> {
  return serveFiles(async (path) => {
    const file = normalize(path);
    return file.startsWith('..') ? undefined : readFile(join(dir, file));
  });
}
