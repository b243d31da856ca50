import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';

/**
 * The chat demo (examples/chat/) as a user drives it in headless Chromium: pick the qwen3 test model
 * served by the dev server, chat, stop a long reply, and go on with the conversation.
 */
describe('the chat demo page', () => {
  let rig: BrowserRig;
  let page: Page;
  const replies = () => page.locator('.message.assistant');
  const lastReply = () => replies().last();

  /** Sets a settings control the way a user does (range inputs fire `input`, the number field `change`). */
  const setValue = (selector: string, value: string, event: 'input' | 'change') =>
    page.$eval(selector, (e, [v, ev]) => {
      (e as HTMLInputElement).value = v!;
      e.dispatchEvent(new Event(ev!, { bubbles: true }));
    }, [value, event]);

  const send = async (text: string) => {
    await page.fill('#prompt', text);
    await page.press('#prompt', 'Enter');
  };

  beforeAll(async () => {
    rig = await startBrowserRig();
    page = await rig.open('/examples/chat/');
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('lists the test models and loads one with progress into a ready chat', async () => {
    await page.waitForSelector('#src-fixture option[value="qwen3"]', { state: 'attached' });
    expect(await page.textContent('#gpu-status')).toMatch(/^WebGPU: /);
    await page.selectOption('#src-fixture', 'qwen3');
    await page.click('text=Load test model');
    await page.waitForFunction(() => document.getElementById('model-info')!.textContent!.includes('qwen3, f32'), undefined, { timeout: 60_000 });
    expect(await page.textContent('#transcript')).toMatch(/random/);
    expect(await page.isEnabled('#prompt')).toBe(true);
  }, 90_000);

  it('streams a reply with stats, stops a long one, and reuses the cached prefix on the next turn', async () => {
    await setValue('#set-temperature', '0', 'input');
    await setValue('#set-max-tokens', '6', 'change');
    await send('Hi there');
    await page.waitForFunction(() => !!document.querySelector('.message.assistant:last-child .stats')?.textContent, undefined, { timeout: 30_000 });
    const first = await lastReply().locator('.stats').textContent();
    expect(first).toMatch(/^6 tokens · first token [\d.]+ m?s · prefill \d+ tok at [\d.]+ tok\/s · decode [\d.]+ tok\/s · hit max tokens$/);
    expect(await page.locator('.message.user').last().textContent()).toContain('Hi there');
    // Greedy output of the random-weight model through the demo's byte tokenizer: text, though gibberish.
    expect((await lastReply().locator('.answer').textContent())!.length).toBeGreaterThan(0);
    expect(await lastReply().locator('.answer.pending').count()).toBe(0);

    // A long reply, stopped by the user as it streams.
    await setValue('#set-max-tokens', '200', 'change');
    await send('Tell me a long story');
    await page.waitForSelector('#stop:not([hidden])');
    await page.waitForFunction(() => (document.querySelector('.message.assistant:last-child') as HTMLElement).getAttribute('aria-busy') === 'true');
    await page.waitForTimeout(400);
    await page.click('#stop');
    await page.waitForFunction(() => /stopped/.test(document.querySelector('.message.assistant:last-child .stats')?.textContent ?? ''), undefined, { timeout: 30_000 });
    const stopped = (await lastReply().locator('.stats').textContent())!;
    expect(Number(/^(\d+) tokens/.exec(stopped)?.[1])).toBeLessThan(200);
    expect(await page.isVisible('#send')).toBe(true);

    // The conversation goes on: the prompt shares its prefix with what the KV cache holds.
    await setValue('#set-max-tokens', '4', 'change');
    await send('Thanks');
    await page.waitForFunction(() => document.querySelectorAll('.message.assistant').length === 3 && !!document.querySelector('.message.assistant:last-child .stats')?.textContent, undefined, { timeout: 30_000 });
    expect(await lastReply().locator('.stats').textContent()).toMatch(/\(\d+ cached\)/);
    expect(await page.locator('.message.user').count()).toBe(3);
    expect(await page.isVisible('#error')).toBe(false);
  }, 90_000);

  it('shows a typed error for a model that cannot be loaded', async () => {
    await page.fill('#src-url', `${rig.baseUrl}/no-such-model/`);
    await page.click('#src-url ~ button, form:has(#src-url) button');
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('#error')).toMatch(/ModelNotFoundError \(MODEL_NOT_FOUND\)/);
  }, 60_000);
});
