// A small static file server for the built demo (dist/demo): GET and HEAD, single byte ranges (Range:
// bytes=a-b, a-, -n → 206 / 416), index.html for folders, and no caching of the service worker script
// so that a new build is picked up. Bound to 127.0.0.1 only.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/plain; charset=utf-8',
  '.jinja': 'text/plain; charset=utf-8',
};

/** Parses one `bytes=` range against a file of `size` bytes: [start, end] inclusive, 'bad', or undefined (no range). */
export function parseRange(header, size) {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'bad';
  let start;
  let end;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'bad';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'bad';
  return [start, end];
}

/**
 * Serves `root` on 127.0.0.1:`port` (0: a free port). Resolves with the server and its URL (ending in '/').
 * @param {{ root: string, port?: number, host?: string }} opts
 */
export async function serveStatic({ root, port = 0, host = '127.0.0.1' }) {
  const base = normalize(root);
  const server = createServer(async (req, res) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      let file = normalize(join(base, pathname));
      if (file !== base && !file.startsWith(base + sep)) {
        res.writeHead(403).end();
        return;
      }
      let st = await stat(file).catch(() => undefined);
      if (st?.isDirectory()) {
        if (!pathname.endsWith('/')) {
          res.writeHead(301, { Location: pathname + '/' }).end();
          return;
        }
        file = join(file, 'index.html');
        st = await stat(file).catch(() => undefined);
      }
      if (!st?.isFile()) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
        return;
      }
      const headers = {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Accept-Ranges': 'bytes',
        'Last-Modified': st.mtime.toUTCString(),
        'Cache-Control': /(^|[\\/])(sw\.js|index\.html|registerSW\.js)$/.test(file) ? 'no-cache' : 'public, max-age=0',
      };
      const range = parseRange(req.headers.range, st.size);
      if (range === 'bad') {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${st.size}` }).end();
        return;
      }
      const [start, end] = range ?? [0, st.size - 1];
      const length = st.size === 0 ? 0 : end - start + 1;
      res.writeHead(range ? 206 : 200, {
        ...headers,
        'Content-Length': String(length),
        ...(range ? { 'Content-Range': `bytes ${start}-${end}/${st.size}` } : {}),
      });
      if (req.method === 'HEAD' || length === 0) return void res.end();
      createReadStream(file, { start, end }).pipe(res);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(e));
    }
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  const addr = server.address();
  return { server, url: `http://${host}:${typeof addr === 'object' && addr ? addr.port : port}/`, close: () => new Promise((ok) => server.close(() => ok())) };
}
