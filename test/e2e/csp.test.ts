import { cp, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic } from '../../scripts/staticServer.js';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';
import { buildDemoSite, DEMO_DIR } from '../helpers/demoSite.js';

/** The strict policy of issue 19 (no 'unsafe-eval', no 'wasm-unsafe-eval'), reporting violations to the server. */
const CSP = "default-src 'self'; script-src 'self'; worker-src 'self' blob:";

/**
 * The built demo served with `Content-Security-Policy` on every response (pages, scripts, the worker, the
 * service worker, the model files): a proxy in front of the demo's own static server that also collects
 * the violation reports the browser posts.
 */
async function serveWithCsp(upstream: string): Promise<{ server: Server; url: string; reports: string[] }> {
  const reports: string[] = [];
  const server = createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/csp-report') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => (reports.push(body), res.writeHead(204).end()));
      return;
    }
    const r = await fetch(new URL(req.url!, upstream), { method: req.method, headers: req.headers.range ? { Range: req.headers.range } : {} });
    const headers: Record<string, string> = {};
    r.headers.forEach((v, k) => (headers[k] = v));
    delete headers['content-encoding'];
    headers['content-security-policy'] = `${CSP}; report-uri /csp-report`;
    res.writeHead(r.status, headers);
    res.end(Buffer.from(await r.arrayBuffer()));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address();
  return { server, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`, reports };
}

describe('the built chat demo under a strict Content-Security-Policy (headless Chromium)', () => {
  let rig: BrowserRig;
  let site: Awaited<ReturnType<typeof serveStatic>>;
  let csp: Awaited<ReturnType<typeof serveWithCsp>>;
  let served: string;
  let context: BrowserContext;
  let page: Page;
  const logs: string[] = [];
  const listen = (m: ConsoleMessage) => void logs.push(`${m.type()}: ${m.text()}`);

  beforeAll(async () => {
    await buildDemoSite();
    served = await mkdtemp(join(tmpdir(), 'weblm-csp-demo-'));
    await cp(DEMO_DIR, join(served, 'demo'), { recursive: true });
    site = await serveStatic({ root: join(served, 'demo') });
    csp = await serveWithCsp(site.url);
    rig = await startBrowserRig(); // for its Chromium
    context = await rig.browser.newContext();
    page = await context.newPage();
    page.on('console', listen);
    page.on('worker', (w) => w.on('console', listen));
    page.on('pageerror', (e) => void logs.push(`pageerror: ${e.message}`));
    await page.addInitScript(() => {
      const seen: string[] = ((window as unknown as { cspViolations: string[] }).cspViolations = []);
      document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    await page.goto(csp.url);
  }, 240_000);
  afterAll(async () => {
    await rig?.close();
    await site?.close();
    csp?.server.close();
    if (served) await rm(served, { recursive: true, force: true });
  });

  it('loads the bundled model and chats with no CSP violation', async () => {
    const response = await page.request.get(csp.url);
    expect(response.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.waitForSelector('#load-bundled', { state: 'attached' });
    await page.click((await page.isVisible('#empty-load-bundled')) ? '#empty-load-bundled' : '#load-bundled');
    await page.waitForFunction(() => /\w+, (f32|f16|q8_0|q4_0|auto)/.test(document.getElementById('model-info')?.textContent ?? ''), undefined, {
      timeout: 120_000,
    });
    // A short reply (SwiftShader decodes slowly), as the demo's settings drawer sets it.
    await page.$eval('#set-max-tokens', (e) => {
      (e as HTMLInputElement).value = '4';
      e.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await page.fill('#prompt', 'Hi there');
    await page.press('#prompt', 'Enter');
    await page.waitForFunction(
      () => {
        const m = document.querySelector('.message.assistant:last-child');
        return (!!m && m.getAttribute('aria-busy') !== 'true' && !!m.querySelector('.stats:not(.live)')?.textContent) || !!m?.querySelector('.inline-error');
      },
      undefined,
      { timeout: 120_000 },
    );
    const last = page.locator('.message.assistant').last();
    expect(await last.locator('.inline-error').count(), `${await last.textContent()}\n${logs.join('\n')}`).toBe(0);
    expect(await last.locator('.stats:not(.live)').textContent()).toMatch(/tokens/);
    await new Promise((r) => setTimeout(r, 500)); // reports are posted asynchronously
    const violations = await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
    expect(violations).toEqual([]);
    expect(logs.filter((l) => /Content Security Policy|Refused to/i.test(l))).toEqual([]);
    expect(csp.reports).toEqual([]);
  }, 300_000);
});
