import { InvalidModelError, ModelNotFoundError, NetworkError } from '../errors.js';
import type { ByteSource, ModelFiles } from './files.js';

/** Tries of a range read whose body comes back shorter than asked. */
const SHORT_READ_ATTEMPTS = 3;

export interface HttpFilesOptions {
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * The files of a model under a base URL (`<base>/config.json`, a Hugging Face `.../resolve/main`, a static
 * server). Byte ranges are fetched with `Range` requests; the server must honour them (206) for files read
 * in parts.
 */
export function httpFiles(baseUrl: string, options: HttpFilesOptions = {}): ModelFiles {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const doFetch = options.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const url = (path: string) => new URL(path, base).href;

  async function request(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await doFetch(url(path), { ...init, headers: { ...options.headers, ...(init.headers as Record<string, string>) }, signal: options.signal });
    } catch (cause) {
      throw new NetworkError(`${url(path)}: request failed (${(cause as Error).message})`, { cause });
    }
    if (res.status === 404) throw new ModelNotFoundError(`${url(path)}: not found (HTTP 404)`);
    if (!res.ok) throw new NetworkError(`${url(path)}: HTTP ${res.status} ${res.statusText}`);
    return res;
  }

  return {
    location: base.replace(/\/$/, ''),
    async has(path) {
      try {
        const res = await doFetch(url(path), { method: 'HEAD', headers: options.headers, signal: options.signal });
        return res.ok;
      } catch (cause) {
        throw new NetworkError(`${url(path)}: request failed (${(cause as Error).message})`, { cause });
      }
    },
    async open(path): Promise<ByteSource> {
      // The size from a one-byte range (Content-Range: bytes 0-0/SIZE), which also checks Range support.
      const probe = await request(path, { headers: { Range: 'bytes=0-0' } });
      const range = probe.headers.get('content-range');
      const total = range ? Number(range.split('/')[1]) : NaN;
      if (probe.status !== 206 || !Number.isFinite(total)) {
        await probe.body?.cancel();
        throw new NetworkError(`${url(path)}: the server ignored a Range request (HTTP ${probe.status}); weblm reads model files in byte ranges`);
      }
      await probe.arrayBuffer();
      return {
        size: total,
        async read(offset, length) {
          if (offset < 0 || offset + length > total) {
            throw new InvalidModelError(`${url(path)}: bytes ${offset}..${offset + length} pass the end of the file (${total} bytes)`);
          }
          if (length === 0) return new Uint8Array(0);
          // A body cut short (the connection dropped mid-response) is asked for again, a few times.
          let got = 0;
          for (let attempt = 0; attempt < SHORT_READ_ATTEMPTS; attempt++) {
            const res = await request(path, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
            const body = new Uint8Array(await res.arrayBuffer());
            if (res.status !== 206) throw new NetworkError(`${url(path)}: the server ignored a Range request (HTTP ${res.status})`);
            if (body.byteLength === length) return body;
            got = body.byteLength;
          }
          throw new NetworkError(`${url(path)}: asked for ${length} bytes at ${offset}, got ${got} (${SHORT_READ_ATTEMPTS} tries)`);
        },
      };
    },
    async text(path) {
      return (await request(path)).text();
    },
  };
}
