/**
 * What headless Chromium's WebGPU exposes of subgroup matrices (chromium-experimental-subgroup-matrix,
 * GPUAdapterInfo.subgroupMatrixConfigs), with and without Dawn's allow_unsafe_apis, as JSON lines. Run
 * from the repository root (Debian's chromium: SwiftShader where there is no GPU):
 *
 *   npm run build && node dist/bench/subgroupMatrixProbeBrowser.js
 */
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { CHROMIUM, FLAGS } from '../test/helpers/browser.js';

// WebGPU needs a secure context: an empty page from 127.0.0.1.
const server = createServer((_, res) => res.end('<!doctype html><title>probe</title>'));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const addr = server.address();
const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`;

for (const extra of [[], ['--enable-dawn-features=allow_unsafe_apis']]) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...FLAGS, ...extra] });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    const found = await page.evaluate(async () => {
      const adapter = await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) return null;
      const info = adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: readonly Record<string, unknown>[] };
      return {
        description: info.description,
        architecture: info.architecture,
        subgroupMaxSize: info.subgroupMaxSize,
        features: [...adapter.features].sort(),
        subgroupMatrixConfigs: (info.subgroupMatrixConfigs ?? []).map((c) => ({ ...c })),
        hasConfigList: 'subgroupMatrixConfigs' in info,
      };
    });
    console.log(JSON.stringify({ browser: browser.version(), flags: extra, adapter: found }));
  } finally {
    await browser.close();
  }
}
server.close();
