import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';
import { llavaExpected, llavaWithTokenizer, type LlavaExpected } from '../helpers/llava.js';

/** A static server on 127.0.0.1 (Range, CORS) for one folder: the llava fixture with a tokenizer. */
async function serveFolder(dir: string): Promise<{ server: Server; base: string }> {
  const server = createServer(async (req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Accept-Ranges');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const file = decodeURIComponent(new URL(req.url!, 'http://x').pathname).slice(1);
    let body: Buffer;
    try {
      if (file.includes('..') || file.includes('/')) throw new Error('no');
      body = await readFile(join(dir, file));
    } catch {
      return void res.writeHead(404).end();
    }
    res.setHeader('Accept-Ranges', 'bytes');
    const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${body.length}`, 'Content-Length': end - start + 1 });
      return void res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1));
    }
    res.writeHead(200, { 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { server, base: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` };
}

type Api = Record<string, (...a: unknown[]) => unknown>;

// The llava fixture in headless Chromium (WebGPU on SwiftShader), through the worker engine: the image is a
// Blob on the page, decoded in the worker with createImageBitmap; greedy ids must equal transformers'.
describe('image Q&A in a Web Worker (headless Chromium)', () => {
  let rig: BrowserRig;
  let files: { server: Server; base: string };
  let page: Page;
  let exp: LlavaExpected;
  const call = <T>(name: string, ...args: unknown[]) =>
    page.evaluate(([n, a]) => (window as unknown as { llavaApi: Api }).llavaApi[n as string]!(...(a as unknown[])), [name, args] as const) as Promise<T>;

  beforeAll(async () => {
    exp = await llavaExpected();
    files = await serveFolder(await llavaWithTokenizer());
    rig = await startBrowserRig();
    page = await rig.open('/test/e2e/pages/llava.html');
    await page.waitForFunction(() => (window as unknown as { llavaReady?: boolean }).llavaReady === true);
    await call('load', `${files.base}/`);
  });
  afterAll(async () => {
    await rig?.close();
    files?.server.close();
  });

  it('an image Blob crosses to the worker and the fixture greedy ids come back', async () => {
    const ids = await call<number[]>('generateWithBlob', exp.inputIds, `${files.base}/image.png`, exp.greedyIds.length);
    expect(ids).toEqual(exp.greedyIds);
  });

  it('content parts with a Blob and with a <canvas> of the same pixels answer alike; typed errors cross', async () => {
    type R = { content: string; usage: { prompt_tokens: number }; info: { vision: { imagesEncoded: number } } };
    const a = await call<R>('chat', `${files.base}/image.png`, 'What is it?', 4, 'blob');
    expect(a.usage.prompt_tokens).toBe('USER: '.length + 16 + '\nWhat is it? ASSISTANT:'.length);
    const b = await call<R>('chat', `${files.base}/image.png`, 'What is it?', 4, 'canvas');
    expect(b.content).toBe(a.content);
    expect(b.info.vision.imagesEncoded).toBe(a.info.vision.imagesEncoded); // same pixels: same features, not re-encoded
    const bad = await call<{ name: string; code: string } | null>('badImage');
    expect(bad).toMatchObject({ name: 'InvalidImageError', code: 'INVALID_IMAGE' });
  });
});
