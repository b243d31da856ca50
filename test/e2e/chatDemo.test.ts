import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startHubServer, type HubServer } from '../helpers/hubServer.js';
import { byteTokenizerConfig, byteTokenizerJson } from './pages/engineTokenizer.js';

/**
 * The chat demo (examples/chat/) as a user drives it in headless Chromium: pick the qwen3 test model
 * served by the dev server, chat, stop a long reply, and go on with the conversation.
 */
describe('the chat demo page', () => {
  let rig: BrowserRig;
  let hub: HubServer;
  let page: Page;
  const replies = () => page.locator('.message.assistant');
  const lastReply = () => replies().last();

  /** Sets a settings control the way a user does (range inputs fire `input`, the number field `change`). */
  const setValue = (selector: string, value: string, event: 'input' | 'change') =>
    page.$eval(selector, (e, [v, ev]) => {
      (e as HTMLInputElement).value = v!;
      e.dispatchEvent(new Event(ev!, { bubbles: true }));
    }, [value, event]);

  /** Waits for the last reply to end (stats shown, or an error), and returns its stats line. */
  const replyDone = async () => {
    await page.waitForFunction(() => {
      const m = document.querySelector('.message.assistant:last-child');
      return !!m?.querySelector('.stats')?.textContent || !!m?.querySelector('.inline-error');
    }, undefined, { timeout: 60_000 });
    expect(await lastReply().locator('.inline-error').count(), (await lastReply().textContent()) ?? '').toBe(0);
    return (await lastReply().locator('.stats').textContent())!;
  };

  const send = async (text: string) => {
    await page.fill('#prompt', text);
    await page.press('#prompt', 'Enter');
  };

  beforeAll(async () => {
    // A Hub look-alike serving the qwen3 fixture as `test/qwen3`, with a tokenizer whose template opens <think>.
    const text = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    hub = await startHubServer({
      root: FIXTURES,
      extra: { 'qwen3/tokenizer.json': text(byteTokenizerJson()), 'qwen3/tokenizer_config.json': text(byteTokenizerConfig()) },
    });
    rig = await startBrowserRig();
    page = await rig.open('/examples/chat/');
    // Vite's dev server bundles a dependency it first sees imported by the worker and then reloads the
    // page: warm up (start the worker, load a model) and reload, so no reload lands mid-test.
    await page.waitForSelector('#src-fixture option[value="qwen3"]', { state: 'attached' });
    await page.click('text=Load test model');
    await page.waitForFunction(() => document.getElementById('model-info')!.textContent!.includes('f32'), undefined, { timeout: 60_000 }).catch(() => undefined);
    await page.reload();
    await page.waitForLoadState('networkidle');
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
    await hub?.close();
  });

  it('lists the test models and loads one with progress into a ready chat', async () => {
    await page.waitForSelector('#src-fixture option[value="qwen3"]', { state: 'attached' });
    expect(await page.textContent('#gpu-status')).toMatch(/^WebGPU: /);
    await page.selectOption('#src-fixture', 'qwen3');
    await page.evaluate(() => {
      const seen: string[] = ((window as unknown as { progressSeen: string[] }).progressSeen = []);
      const bytes = document.getElementById('load-bytes')!;
      new MutationObserver(() => seen.push(bytes.textContent ?? '')).observe(bytes, { childList: true, characterData: true, subtree: true });
    });
    await page.click('text=Load test model');
    await page.waitForFunction(() => document.getElementById('model-info')!.textContent!.includes('qwen3, f32'), undefined, { timeout: 60_000 });
    expect(await page.textContent('#transcript')).toMatch(/random/);
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen);
    expect(seen.some((t) => /^[\d.]+ KB \/ [\d.]+ KB \(\d+%\)$/.test(t)), seen.join(' | ')).toBe(true);
    expect(await page.isVisible('#load-progress')).toBe(false);
    expect(await page.isEnabled('#prompt')).toBe(true);
  }, 90_000);

  it('streams a reply with stats, stops a long one, and reuses the cached prefix on the next turn', async () => {
    await setValue('#set-temperature', '0', 'input');
    await setValue('#set-max-tokens', '6', 'change');
    await send('Hi there');
    const first = await replyDone();
    expect(first).toMatch(/^6 tokens · first token [\d.]+ m?s · prefill \d+ tok at [\d.]+ tok\/s · decode [\d.]+ tok\/s · hit max tokens$/);
    expect(await page.locator('.message.user').last().textContent()).toContain('Hi there');
    // Greedy output of the random-weight model through the demo's byte tokenizer: text, though gibberish.
    expect((await lastReply().locator('.answer').textContent())!.length).toBeGreaterThan(0);
    expect(await lastReply().locator('.answer.pending').count()).toBe(0);

    // A long reply, stopped by the user as it streams.
    await setValue('#set-max-tokens', '200', 'change');
    await send('Tell me a long story');
    await page.waitForSelector('#stop:not([hidden])');
    // Streaming: text shows while the reply is still being generated.
    await page.waitForFunction(() => {
      const m = document.querySelector('.message.assistant:last-child')!;
      return m.getAttribute('aria-busy') === 'true' && (m.querySelector('.answer')!.textContent ?? '').length > 0;
    }, undefined, { timeout: 60_000 });
    await page.click('#stop');
    const stopped = await replyDone();
    expect(stopped).toMatch(/stopped$/);
    expect(Number(/^(\d+) tokens/.exec(stopped)?.[1])).toBeLessThan(200);
    expect(await page.isVisible('#send')).toBe(true);

    // The conversation goes on: the prompt shares its prefix with what the KV cache holds.
    await setValue('#set-max-tokens', '4', 'change');
    await send('Thanks');
    expect(await replyDone()).toMatch(/\(\d+ cached\)/);
    expect(await replies().count()).toBe(3);
    expect(await page.locator('.message.user').count()).toBe(3);
    expect(await page.isVisible('#error')).toBe(false);
  }, 180_000);

  it('shows a typed error for a model that cannot be loaded', async () => {
    await page.fill('#src-url', `${rig.baseUrl}/no-such-model/`);
    await page.click('#src-url ~ button, form:has(#src-url) button');
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('#error')).toMatch(/ModelNotFoundError \(MODEL_NOT_FOUND\)/);
  }, 60_000);

  it('downloads a repo id into the browser cache, shows thinking apart from the answer, and deletes it', async () => {
    await page.click('summary:has-text("Hub server")');
    await page.fill('#src-hub', hub.url);
    await page.fill('#src-repo', 'test/qwen3');
    await page.click('text=Download & load');
    await page.waitForFunction(() => document.getElementById('model-info')!.textContent!.startsWith('test/qwen3'), undefined, { timeout: 60_000 });
    expect(hub.log.some((r) => r.path === '/test/qwen3/resolve/main/model.safetensors')).toBe(true);
    const cached = page.locator('#cached-models li', { hasText: 'test/qwen3' });
    expect(await cached.textContent()).toMatch(/\d+(\.\d)? KB/);
    expect(await page.textContent('#storage-estimate')).toMatch(/^Storage: .* used of /);

    // The template opens <think>: the reply streams into the Thinking block, apart from the answer.
    await setValue('#set-max-tokens', '8', 'change');
    await send('Why?');
    await replyDone();
    const thinking = lastReply().locator('details.thinking');
    expect(await thinking.isVisible()).toBe(true);
    expect(await thinking.locator('summary').textContent()).toMatch(/^Thought for /);
    expect((await thinking.locator('.thinking-text').textContent())!.length).toBeGreaterThan(0);

    page.once('dialog', (d) => void d.accept());
    await page.click('button[aria-label="Delete test/qwen3"]');
    await page.waitForFunction(() => !document.getElementById('cached-models')!.textContent!.includes('test/qwen3'));
  }, 90_000);

  it('loads a folder picked from disk, and explains a chat it cannot serve', async () => {
    await page.setInputFiles('#src-folder', join(FIXTURES, 'qwen2'));
    await page.waitForFunction(() => document.getElementById('model-info')!.textContent!.startsWith('qwen2 — qwen2'), undefined, { timeout: 60_000 });
    expect(await page.textContent('#model-info')).toMatch(/no tokenizer\.json/); // the fixture folder has none
    await send('Hello');
    await page.waitForSelector('.message.assistant:last-child .inline-error', { timeout: 30_000 });
    expect(await lastReply().locator('.inline-error').textContent()).toMatch(/^InvalidArgumentError \(INVALID_ARGUMENT\): .*tokenizer/);
  }, 90_000);
});
