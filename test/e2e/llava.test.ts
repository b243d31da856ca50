import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';
import { serveFolder, type FileServer } from '../helpers/fileServer.js';
import { llavaExpected, llavaWithTokenizer, type LlavaExpected } from '../helpers/llava.js';

type Api = Record<string, (...a: unknown[]) => unknown>;

// The llava fixture in headless Chromium (WebGPU on SwiftShader), through the worker engine: the image is a
// Blob on the page, decoded in the worker with createImageBitmap; greedy ids must equal transformers'.
describe('image Q&A in a Web Worker (headless Chromium)', () => {
  let rig: BrowserRig;
  let files: FileServer;
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
