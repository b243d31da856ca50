import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';

// xgrammar's WASM in a module worker of headless Chromium under a CSP without 'unsafe-eval': it compiles
// with 'wasm-unsafe-eval' and is refused without it (what a page that uses JSON mode must allow).
describe('constrained decoding in a Web Worker (Chromium, strict CSP)', () => {
  let rig: BrowserRig;
  let csp = '';
  beforeAll(async () => {
    rig = await startBrowserRig();
  });
  afterAll(async () => rig?.close());

  async function open() {
    const page = await rig.open('/test/e2e/pages/structured.html');
    await page.route('**/structuredWorker.ts*', async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': csp } });
    });
    await page.waitForFunction(() => 'runGrammar' in window);
    return page;
  }
  const schema = { type: 'object', properties: { a: { type: 'integer', minimum: 3, maximum: 9 }, b: { enum: ['x', 'y'] } }, required: ['a', 'b'] };

  it("compiles and applies a JSON schema with script-src 'self' 'wasm-unsafe-eval'", async () => {
    csp = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";
    const page = await open();
    const r = (await page.evaluate(
      (s) => (window as unknown as { runGrammar: (s: unknown) => Promise<{ text: string; ended: boolean }> }).runGrammar(s),
      schema,
    )) as {
      text: string;
      ended: boolean;
    };
    expect(r.ended).toBe(true);
    expect(JSON.parse(r.text)).toEqual({ a: 3, b: 'x' });
  });

  it("is refused under script-src 'self' alone (no WASM compilation allowed)", async () => {
    csp = "default-src 'self'; script-src 'self'";
    const page = await open();
    const err = await page.evaluate(
      (s) =>
        (window as unknown as { runGrammar: (s: unknown) => Promise<unknown> }).runGrammar(s).then(
          () => '',
          (e: Error) => e.message,
        ),
      schema,
    );
    expect(err).toMatch(/WebAssembly|wasm/i);
  });

  it('runs from a production build (vite / rolldown bundle the UMD as CommonJS), served with the strict CSP', async () => {
    const out = await mkdtemp(join(tmpdir(), 'weblm-structured-'));
    await build({
      configFile: false,
      root: 'test/e2e/pages',
      base: './',
      logLevel: 'error',
      worker: { format: 'es' },
      build: { outDir: out, emptyOutDir: true, rollupOptions: { input: 'test/e2e/pages/structured.html' } },
    });
    const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript' };
    const server = createServer(async (req, res) => {
      const path = join(out, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      const body = await readFile(path).catch(() => undefined);
      res.writeHead(body ? 200 : 404, {
        'content-type': types[extname(path)] ?? 'application/octet-stream',
        'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'",
      });
      res.end(body);
    }).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const page = await rig.browser.newPage();
      await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/structured.html`);
      await page.waitForFunction(() => 'runGrammar' in window);
      const r = await page.evaluate((s) => (window as unknown as { runGrammar: (s: unknown) => Promise<{ text: string }> }).runGrammar(s), schema);
      expect(JSON.parse(r.text)).toEqual({ a: 3, b: 'x' });
      await page.close();
    } finally {
      server.close();
    }
  });
});
