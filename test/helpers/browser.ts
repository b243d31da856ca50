import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';

/** Debian's Chromium; WebGPU runs on SwiftShader there (the flags below turn it on without a GPU). */
export const CHROMIUM = process.env.WEBLM_CHROMIUM ?? '/usr/bin/chromium';
export const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface BrowserRig {
  server: ViteDevServer;
  browser: Browser;
  baseUrl: string;
  open(path: string): Promise<Page>;
  close(): Promise<void>;
}

/** A vite dev server on 127.0.0.1 (a free port) and a headless Chromium to open its pages. */
export async function startBrowserRig(): Promise<BrowserRig> {
  // No file watching: a file edited elsewhere in the tree during a run must not reload the page. (HMR stays on:
  // the reload after vite optimizes a dependency found late, on a cold cache, needs it.)
  const server = await createServer({ configFile: 'vite.config.ts', server: { port: 0, strictPort: false, watch: null }, logLevel: 'error' });
  await server.listen();
  const addr = server.httpServer!.address();
  const baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  const pages: Page[] = [];
  return {
    server,
    browser,
    baseUrl,
    async open(path) {
      const page = await browser.newPage();
      pages.push(page);
      page.on('console', (m) => {
        if (m.type() === 'error') console.error(`[page] ${m.text()}`);
      });
      page.on('pageerror', (e) => console.error(`[page] ${e.stack ?? e}`));
      await page.goto(`${baseUrl}${path}`);
      return page;
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
