import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { serveStatic } from '../../scripts/staticServer.js';
import { CHROMIUM, FLAGS } from '../helpers/browser.js';
import { axeViolations as axeOf, buildDemoSite, DEMO_DIR, expectAccessibleLightAndDark } from '../helpers/demoSite.js';
import { FIXTURES } from '../helpers/fixtures.js';

/** Held-out Fashion-MNIST test pictures of the bundled model's folder. */
const TESTSET = resolve(import.meta.dirname, '../../models/tiny-fashion-vlm/testset');

/** Screenshots of the page, committed to look at. */
const SHOTS = resolve(import.meta.dirname, 'screenshots');

/**
 * The VQA page (examples/vqa/, built as dist/demo/vqa.html beside the chat page) as a user drives it in
 * headless Chromium: the bundled tiny-fashion-vlm (trained), a picture from the file chooser, a paste, a drop and
 * the sample and the camera, streamed answers, a follow-up that reuses the picture's features, a phone
 * with the network off.
 */
describe('the built VQA page', () => {
  let browser: Browser;
  let site: Awaited<ReturnType<typeof serveStatic>>;
  let context: BrowserContext;
  let page: Page;
  let vqaUrl: string;

  const replyDone = async (p = page) => {
    await p.waitForFunction(
      () => {
        const m = document.querySelector('.message.assistant:last-of-type');
        return (!!m && m.getAttribute('aria-busy') !== 'true' && !!m.querySelector('.image-note')) || !!m?.querySelector('.inline-error');
      },
      undefined,
      { timeout: 60_000 },
    );
    const last = p.locator('.message.assistant').last();
    expect(await last.locator('.inline-error').count(), (await last.textContent()) ?? '').toBe(0);
    return { stats: (await last.locator('.stats:not(.live)').textContent())!, note: (await last.locator('.image-note').textContent())! };
  };

  const ask = async (text: string, p = page) => {
    const before = await p.locator('.message.assistant').count();
    await p.fill('#prompt', text);
    await p.press('#prompt', 'Enter');
    await p.locator('.message.assistant').nth(before).waitFor({ timeout: 30_000 });
  };

  const loadBundled = async (p = page) => {
    await p.click('#empty-load-bundled');
    await p.waitForFunction(() => /^tiny-fashion-vlm — llava, /.test(document.getElementById('model-info')!.textContent!), undefined, { timeout: 60_000 });
  };

  /** The answer length setting (in the drawer on a phone: set as its value). */
  const setMaxTokens = (n: number, p = page) => p.$eval('#set-max-tokens', (e, v) => ((e as HTMLInputElement).value = v), String(n));

  /** An image the page makes (a canvas as PNG) and hands over as a user's paste or drop would. */
  const handOver = (how: 'paste' | 'drop', name: string, p = page) =>
    p.evaluate(
      async ([how, name]) => {
        const c = document.createElement('canvas');
        c.width = 48;
        c.height = 40;
        const g = c.getContext('2d')!;
        g.fillStyle = how === 'paste' ? '#d33' : '#36c';
        g.fillRect(0, 0, 48, 40);
        g.fillStyle = '#fff';
        g.fillRect(12, 10, 24, 20);
        const blob = await new Promise<Blob>((r) => c.toBlob((b) => r(b!), 'image/png'));
        const dt = new DataTransfer();
        dt.items.add(new File([blob], name!, { type: 'image/png' }));
        if (how === 'paste') document.getElementById('prompt')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
        else {
          const zone = document.getElementById('drop-zone')!;
          zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
          zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
        }
      },
      [how, name],
    );

  const imagesEncoded = (p = page) =>
    p.evaluate(async () => (await (window as unknown as { weblmVqa: { engine: { info(): Promise<any> } } }).weblmVqa.engine.info())?.vision?.imagesEncoded);

  const shot = (name: string, p = page) => p.screenshot({ path: join(SHOTS, `${name}.png`) });

  const axeViolations = (p = page) => axeOf(p);

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    await buildDemoSite(); // shared with the chat page's test: built once per run
    site = await serveStatic({ root: DEMO_DIR });
    vqaUrl = `${site.url}vqa.html`;
    // Chromium's fake camera (a test pattern) for the camera button, allowed without a prompt.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...FLAGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, permissions: ['camera'] });
    page = await context.newPage();
    page.on('console', (m) => void (m.type() === 'error' && console.error(`[page] ${m.text()}`)));
    page.on('pageerror', (e) => console.error(`[page] ${e.stack ?? e}`));
    await page.goto(vqaUrl);
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  it('labels the bundled model, names the garment in a chosen picture as the answer streams, and answers a follow-up from the cached features', async () => {
    await page.waitForSelector('#load-bundled');
    expect(await page.textContent('#bundled-model')).toMatch(
      /tiny-fashion-vlm.*Trained here · Fashion-MNIST only.*Works offline.*names the garment.*nothing else/,
    );
    expect(await page.textContent('#empty-load-bundled')).toBe('Load the bundled model (tiny-fashion-vlm)');
    expect(await page.locator('#samples button.sample').count()).toBe(10); // one held-out picture per class
    expect(await page.evaluate(() => (window as unknown as { weblmVqa: { offlineReady: Promise<boolean> } }).weblmVqa.offlineReady)).toBe(true);
    await loadBundled();
    expect(await page.textContent('#current-model')).toMatch(/^tiny-fashion-vlm\s*trained here$/);
    expect(await page.textContent('#model-info')).toMatch(/28 x 28 pictures as 49 tokens/);
    expect(await page.textContent('#transcript')).toMatch(/trained on Fashion-MNIST only/);
    expect(await page.isDisabled('#send')).toBe(true); // no picture yet

    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('#choose-image')]);
    await chooser.setFiles(join(TESTSET, '0078.png')); // a bag
    await page.waitForFunction(() => document.getElementById('image-info')!.textContent === '0078.png · 28 x 28');
    expect(await page.isVisible('#image-preview')).toBe(true);

    // The answer streams: its text is seen at several lengths while the reply is busy.
    await page.evaluate(() => {
      const seen: number[] = ((window as unknown as { lengths: number[] }).lengths = []);
      new MutationObserver(() => {
        const m = document.querySelector('.message.assistant[aria-busy="true"] .answer');
        if (m && !seen.includes(m.textContent!.length)) seen.push(m.textContent!.length);
      }).observe(document.getElementById('transcript')!, { childList: true, characterData: true, subtree: true });
    });
    await ask('What is in this picture?');
    const first = await replyDone();
    expect(await page.locator('.message.assistant .answer').last().innerText()).toBe('A bag.');
    expect(first.stats).toMatch(/^\d tokens · first token [\d.]+ m?s · prefill \d+ tok at [\d.]+ tok\/s · decode [\d.]+ tok\/s$/); // ended by <|im_end|>
    expect(first.note).toBe('The picture went through the vision tower.');
    expect((await page.evaluate(() => (window as unknown as { lengths: number[] }).lengths)).filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(await page.locator('.message.user img.thumb').count()).toBe(1);
    expect(await imagesEncoded()).toBe(1);

    // A follow-up from the questions it was trained on, one click.
    const before = await page.locator('.message.assistant').count();
    await page.click('#questions button:has-text("Is this a shoe?")');
    await page.locator('.message.assistant').nth(before).waitFor();
    const second = await replyDone();
    expect(await page.locator('.message.assistant .answer').last().innerText()).toBe('No, it is a bag.');
    expect(second.stats).toMatch(/\(\d+ cached\)/);
    expect(second.note).toBe('The picture’s features came from the cache.');
    expect(await imagesEncoded()).toBe(1); // the follow-up did not encode the picture again
    expect(await page.locator('.message.assistant').count()).toBe(2);
    expect(await page.isVisible('#error')).toBe(false);
    await shot('vqa-desktop');
    await expectAccessibleLightAndDark(page, () => shot('vqa-desktop-dark'));
  }, 180_000);

  it('takes a pasted picture, a dropped one, the sample and a camera picture, each starting a new conversation', async () => {
    await handOver('paste', 'image.png');
    await page.waitForFunction(() => document.getElementById('image-info')!.textContent === 'pasted picture · 48 x 40');
    expect(await page.locator('.message').count()).toBe(0);
    await setMaxTokens(4);
    await ask('Which colour?');
    expect((await replyDone()).note).toBe('The picture went through the vision tower.');
    expect(await imagesEncoded()).toBe(2);

    await handOver('drop', 'blue.png');
    await page.waitForFunction(() => document.getElementById('image-info')!.textContent === 'blue.png · 48 x 40');
    await ask('Which colour?');
    expect((await replyDone()).note).toBe('The picture went through the vision tower.');
    expect(await imagesEncoded()).toBe(3);

    await setMaxTokens(16);
    await page.click('#samples button[aria-label="Sample picture 10: ankle boot"]');
    await page.waitForFunction(() => document.getElementById('image-info')!.textContent === 'sample 10 (ankle boot) · 28 x 28');
    await ask('What is in this picture?');
    expect((await replyDone()).note).toBe('The picture went through the vision tower.');
    expect(await page.locator('.message.assistant .answer').last().innerText()).toBe('An ankle boot.');

    await page.click('#camera');
    await page.waitForFunction(() => (document.getElementById('camera-view') as HTMLVideoElement).videoWidth > 0, undefined, { timeout: 30_000 });
    expect(await page.isVisible('#image-preview')).toBe(false);
    await page.click('#camera-shoot');
    await page.waitForFunction(() => /^camera picture · \d+ x \d+$/.test(document.getElementById('image-info')!.textContent!));
    expect(await page.isVisible('#camera-view')).toBe(false);
    await ask('What do you see?');
    expect((await replyDone()).note).toBe('The picture went through the vision tower.');
  }, 120_000);

  it('refuses a text model with a typed error, and links to the chat page and back', async () => {
    await page.click('#more-sources summary');
    await page.setInputFiles('#src-folder', join(FIXTURES, 'qwen2'));
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    expect(await page.textContent('#error')).toMatch(/UnsupportedModelError \(UNSUPPORTED_MODEL\).*no vision encoder/);
    expect(await page.textContent('#model-info')).toBe('No model loaded.');
    await page.click('#to-chat');
    await page.waitForSelector('#load-bundled');
    expect(await page.title()).toBe('weblm chat');
    await page.click('#to-vqa');
    await page.waitForSelector('#empty-load-bundled');
    expect(await page.title()).toBe('weblm image Q&A');
  }, 90_000);

  it('on a phone with the network off (from the service worker): the picture above the conversation, the input box in view, the model in a drawer', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      const p = await phone.newPage();
      await p.goto(vqaUrl);
      expect(await p.evaluate(() => (window as unknown as { weblmVqa: { offlineReady: Promise<boolean> } }).weblmVqa.offlineReady)).toBe(true);
      await phone.setOffline(true);
      await p.reload();
      await p.waitForSelector('#empty-load-bundled', { timeout: 30_000 });
      expect(await p.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
      expect(await p.textContent('#offline-status')).toBe('Offline');
      expect(await p.isVisible('#sidebar #model-panel')).toBe(false);
      await loadBundled(p);
      await p.setInputFiles('#image-file', join(TESTSET, '9045.png')); // a sneaker
      await p.waitForFunction(() => document.getElementById('image-info')!.textContent === '9045.png · 28 x 28');
      await ask('What is in this picture?', p);
      await replyDone(p);
      expect(await p.locator('.message.assistant .answer').last().innerText()).toBe('A sneaker.');
      const box = (await p.locator('#prompt').boundingBox())!;
      expect(box.y + box.height).toBeLessThanOrEqual(844);
      const img = (await p.locator('#image-preview').boundingBox())!;
      expect(img.y + img.height).toBeLessThan(box.y);
      expect(await p.isVisible('.message.assistant')).toBe(true);
      await shot('vqa-phone', p);
      expect(await axeViolations(p)).toEqual([]);
      await p.click('#drawer-toggle');
      await p.waitForSelector('#sidebar #model-panel', { state: 'visible' });
      await p.waitForTimeout(300); // the slide-in transition
      await shot('vqa-phone-drawer', p);
      await p.keyboard.press('Escape');
      await p.waitForSelector('#sidebar #model-panel', { state: 'hidden' });
    } finally {
      await phone.close();
    }
  }, 120_000);
});
