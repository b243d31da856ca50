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
});
