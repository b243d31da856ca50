import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';
import { serveFolder, type FileServer } from '../helpers/fileServer.js';

// models/tiny-fashion-vlm in headless Chromium (WebGPU on SwiftShader), through the worker engine of
// test/e2e/pages/llava.ts: the held-out test PNG is fetched as a Blob on the page and decoded in the worker.
const DIR = join(import.meta.dirname, '../../models/tiny-fashion-vlm');
const LABELS = JSON.parse(readFileSync(join(DIR, 'testset/labels.json'), 'utf8')) as Record<string, { label: number; name: string }>;
const KEYWORDS: [number, string][] = [
  [0, 't-shirt'],
  [9, 'ankle boot'],
  [1, 'trousers'],
  [2, 'pullover'],
  [3, 'dress'],
  [4, 'coat'],
  [5, 'sandal'],
  [6, 'shirt'],
  [7, 'sneaker'],
  [8, 'bag'],
];
const classOf = (answer: string) => KEYWORDS.find(([, k]) => answer.toLowerCase().includes(k))?.[0];

type Api = Record<string, (...a: unknown[]) => unknown>;

describe('models/tiny-fashion-vlm in headless Chromium (worker engine)', () => {
  let rig: BrowserRig;
  let files: FileServer;
  let page: Page;
  const call = <T>(name: string, ...args: unknown[]) =>
    page.evaluate(([n, a]) => (window as unknown as { llavaApi: Api }).llavaApi[n as string]!(...(a as unknown[])), [name, args] as const) as Promise<T>;

  beforeAll(async () => {
    files = await serveFolder(DIR); // the model folder and its testset/
    rig = await startBrowserRig();
    page = await rig.open('/test/e2e/pages/llava.html');
    await page.waitForFunction(() => (window as unknown as { llavaReady?: boolean }).llavaReady === true);
    await call('load', `${files.base}/`);
  });
  afterAll(async () => {
    await rig?.close();
    files?.server.close();
  });

  // A smaller sample than the Node test's 40: the first 2 images of each class in labels.json's order.
  it('names the garment of >= 80% of 20 held-out test images ("What is in this picture?")', { timeout: 600_000 }, async () => {
    const sorted = Object.keys(LABELS).sort();
    const sample = Array.from({ length: 10 }, (_, c) => sorted.filter((f) => LABELS[f]!.label === c).slice(0, 2)).flat();
    let right = 0;
    const wrong: string[] = [];
    for (const f of sample) {
      const r = await call<{ content: string }>('chat', `${files.base}/testset/${f}`, 'What is in this picture?', 12, 'blob');
      if (classOf(r.content) === LABELS[f]!.label) right++;
      else wrong.push(`${f} (${LABELS[f]!.name}): ${JSON.stringify(r.content)}`);
    }
    console.log(`tiny-fashion-vlm in Chromium: ${right}/${sample.length} named right; wrong: ${wrong.join('; ') || 'none'}`);
    expect(right / sample.length).toBeGreaterThanOrEqual(0.8);
  });
});
