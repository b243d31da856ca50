/**
 * recordProfile in headless Chromium (Debian's, SwiftShader without a GPU): a vite dev server serves
 * bench/recordProfile.html, which runs recordProfileCore.ts in the page. Run from the repository root:
 *
 *   npm run build && node dist/bench/recordProfileBrowser.js [--layers 28] [--steps 200] [--replay both]
 */
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { CHROMIUM } from '../test/helpers/browser.js';

const { values: a } = parseArgs({
  options: {
    layers: { type: 'string', default: '28' },
    steps: { type: 'string', default: '200' },
    dtype: { type: 'string', default: 'q4_0' },
    replay: { type: 'string', default: 'both' },
  },
});
// No file watching or HMR: a file edited during the run must not reload the page.
const server = await createServer({ configFile: 'vite.config.ts', server: { port: 0, strictPort: false, hmr: false, watch: null }, logLevel: 'error' });
await server.listen();
const addr = server.httpServer!.address();
const port = typeof addr === 'object' && addr ? addr.port : 0;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-gpu-sandbox', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`[page] ${e.stack ?? e}`));
  await page.goto(`http://127.0.0.1:${port}/bench/recordProfile.html`);
  await page.waitForFunction(() => (window as unknown as { profileReady?: boolean }).profileReady === true, undefined, { timeout: 300_000 });
  const o = { layers: Number(a.layers), steps: Number(a.steps), dtype: a.dtype, replay: a.replay };
  const r = await page.evaluate((o) => (window as unknown as { runProfile(o: unknown): Promise<unknown> }).runProfile(o), o);
  const { adapter, figures } = r as { adapter: unknown; figures: unknown[] };
  console.log(JSON.stringify({ browser: browser.version(), adapter }));
  for (const f of figures) console.log(JSON.stringify(f));
} finally {
  await browser.close();
  await server.close();
}
