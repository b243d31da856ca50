import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CATALOG, checkFit, footprint, parameterCount, type CatalogModel } from '../../examples/chat/catalog.js';
import { parseRange, serveStatic } from '../../scripts/staticServer.js';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';
import { axeViolations as axeOf, buildDemoSite, DEMO_DIR, expectAccessibleLightAndDark } from '../helpers/demoSite.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { startHubServer, type HubServer } from '../helpers/hubServer.js';
import { byteTokenizerConfig, byteTokenizerJson } from './pages/engineTokenizer.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** Screenshots of the main states, committed to be looked at (test/e2e/screenshots/chat-*.png). */
const SHOTS = join(ROOT, 'test/e2e/screenshots');

describe('the chat demo catalog (sizes computed from the model dimensions)', () => {
  it('gives the parameter counts of the model cards', () => {
    // Model cards, in their units: total (and active, for the MoE) parameters.
    const cards: Record<string, [number, number?]> = {
      'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B': [1.78e9],
      'Qwen/Qwen3-0.6B': [0.6e9],
      'Qwen/Qwen3-1.7B': [1.7e9],
      'unsloth/Llama-3.2-1B-Instruct': [1.23e9],
      'unsloth/gemma-3-1b-it': [1.0e9],
      'HuggingFaceTB/SmolLM2-360M-Instruct': [0.36e9],
      'Qwen/Qwen3-30B-A3B': [30.5e9, 3.3e9],
    };
    expect(CATALOG.map((m) => m.repo).sort()).toEqual(Object.keys(cards).sort());
    for (const m of CATALOG) {
      const [total, active] = cards[m.repo]!;
      const p = parameterCount(m.arch);
      // Cards round to 2-3 significant digits ("0.6B" is 596M).
      expect(Math.abs(p.total / total - 1), m.repo).toBeLessThan(0.03);
      if (active) expect(Math.abs(p.active / active - 1), m.repo).toBeLessThan(0.03);
    }
  });

  it('counts the bytes of a real file: the qwen3 fixture (f32 safetensors) from its config.json dimensions', async () => {
    const fixture: CatalogModel = {
      repo: 'test/qwen3',
      title: 'qwen3 fixture',
      note: '',
      storedAs: 'f32',
      arch: {
        modelType: 'qwen3',
        hiddenSize: 64,
        numLayers: 2,
        intermediateSize: 128,
        numHeads: 4,
        numKvHeads: 2,
        headDim: 32,
        vocabSize: 512,
        tiedEmbeddings: false,
        maxPositions: 256,
        qkNorm: true,
      },
    };
    const file = await readFile(join(FIXTURES, 'qwen3/model.safetensors'));
    const header = 8 + Number(file.readBigUInt64LE(0));
    expect(footprint(fixture, 'auto').downloadBytes).toBe(file.byteLength - header);
    expect(footprint(fixture, 'auto').weightBytes).toBe(file.byteLength - header); // f32 as stored, norms f32
  });

  it('sizes the GPU memory by dtype block layout, and checks the adapter limits', () => {
    const r1 = CATALOG.find((m) => m.repo.startsWith('deepseek-ai/'))!;
    const bf16 = footprint(r1, 'auto');
    const q4 = footprint(r1, 'q4_0');
    expect(bf16.downloadBytes).toBe(bf16.params.total * 2);
    // Q4_0: 18 bytes per 32 weights; norms and biases stay f32.
    expect(q4.weightBytes / bf16.weightBytes).toBeGreaterThan(18 / 32 / 2);
    expect(q4.weightBytes / bf16.weightBytes).toBeLessThan(18 / 32 / 2 + 0.01);
    // f32 KV cache of 28 layers x 2 KV heads x 128 for 4096 tokens.
    expect(q4.kvCacheBytes).toBe(2 * 28 * 2 * 128 * 4 * 4096);
    const moe = CATALOG.find((m) => m.repo === 'Qwen/Qwen3-30B-A3B')!;
    const limits = { maxBufferSize: 256 << 20, maxStorageBufferBindingSize: 128 << 20 };
    const fmt = (n: number) => `${n}`;
    expect(checkFit(footprint(moe, 'auto'), limits, undefined, fmt).ok).toBe(false); // an expert stack of 805 MB in bf16
    expect(checkFit(footprint(moe, 'q4_0'), limits, undefined, fmt).ok).toBe(true); // 226 MB in Q4_0
    expect(checkFit(footprint(r1, 'q4_0'), limits, 1e9, fmt).problems.join()).toMatch(/free browser storage/);
  });
});

describe('the static server of `npm run demo`', () => {
  it('answers Range requests (206, suffix ranges, 416) and HEAD, and stays inside its folder', async () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('bytes=2-5', 10)).toEqual([2, 5]);
    expect(parseRange('bytes=4-', 10)).toEqual([4, 9]);
    expect(parseRange('bytes=-3', 10)).toEqual([7, 9]);
    expect(parseRange('bytes=8-20', 10)).toEqual([8, 9]);
    expect(parseRange('bytes=10-', 10)).toBe('bad');
    expect(parseRange('bytes=0-1,4-5', 10)).toBe('bad');
    const srv = await serveStatic({ root: join(FIXTURES, 'qwen3') });
    try {
      const range = await fetch(`${srv.url}config.json`, { headers: { Range: 'bytes=0-9' } });
      expect(range.status).toBe(206);
      expect(range.headers.get('content-range')).toMatch(/^bytes 0-9\/\d+$/);
      expect(await range.text()).toBe('{\n  "archi');
      const head = await fetch(`${srv.url}model.safetensors`, { method: 'HEAD' });
      expect(head.headers.get('content-length')).toBe('659712');
      expect((await fetch(`${srv.url}config.json`, { headers: { Range: 'bytes=99999-' } })).status).toBe(416);
      expect((await fetch(`${srv.url}..%2F..%2Fpackage.json`)).status).toBe(403);
    } finally {
      await srv.close();
    }
  });
});

/**
 * The chat demo (examples/chat/) as a user drives it in headless Chromium, built as `npm run demo` builds
 * it and served by the same static server: the bundled model, chat, stop, a reload that keeps the
 * conversation, the network off, Markdown, a Hub download with an interruption, a phone-sized screen.
 */
describe('the built chat demo page', () => {
  let rig: BrowserRig;
  let hub: HubServer;
  let site: Awaited<ReturnType<typeof serveStatic>>;
  let served: string;
  let context: BrowserContext;
  let page: Page;
  const replies = () => page.locator('.message.assistant');
  const lastReply = () => replies().last();

  /** Sets a settings control the way a user does (range inputs fire `input`, the number field `change`). */
  const setValue = (selector: string, value: string, event: 'input' | 'change') =>
    page.$eval(
      selector,
      (e, [v, ev]) => {
        (e as HTMLInputElement).value = v!;
        e.dispatchEvent(new Event(ev!, { bubbles: true }));
      },
      [value, event],
    );

  /** Waits for the last reply to end (stats shown, or an error), and returns its stats line. */
  const replyDone = async (p = page) => {
    await p.waitForFunction(
      () => {
        const m = document.querySelector('.message.assistant:last-child');
        return (!!m && m.getAttribute('aria-busy') !== 'true' && !!m.querySelector('.stats:not(.live)')?.textContent) || !!m?.querySelector('.inline-error');
      },
      undefined,
      { timeout: 60_000 },
    );
    const last = p.locator('.message.assistant').last();
    expect(await last.locator('.inline-error').count(), (await last.textContent()) ?? '').toBe(0);
    return (await last.locator('.stats:not(.live)').textContent())!;
  };
  /**
   * The token count of a finished reply's stats line, checked against the max tokens asked for: all of them
   * ("hit max tokens"), or fewer where the random-weights test model drew its end-of-sequence token; never stopped.
   */
  const repliedTokens = (line: string, maxTokens: number): number => {
    const n = Number(/^(\d+) tokens?\b/.exec(line)?.[1]);
    expect(n >= 1 && n <= maxTokens, line).toBe(true);
    expect(line.endsWith('hit max tokens'), line).toBe(n === maxTokens);
    return n;
  };

  /** Sends a message as a user does, and waits until its reply has started (a new assistant message). */
  const send = async (text: string, p = page) => {
    const before = await p.locator('.message.assistant').count();
    await p.fill('#prompt', text);
    await p.press('#prompt', 'Enter');
    await p.locator('.message.assistant').nth(before).waitFor({ timeout: 30_000 });
  };

  const loadBundled = async (p = page) => {
    await p.waitForSelector('#load-bundled', { state: 'attached' });
    await p.click((await p.isVisible('#empty-load-bundled')) ? '#empty-load-bundled' : '#load-bundled');
    await p.waitForFunction(() => document.getElementById('model-info')!.textContent!.includes('qwen3, f32'), undefined, { timeout: 60_000 });
  };

  const shot = (name: string, p = page) => p.screenshot({ path: join(SHOTS, `chat-${name}.png`) });

  const axeViolations = (p = page) => axeOf(p);

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    // Built as `npm run demo` builds it, with the bundled model pinned to the qwen3 test fixture (random
    // weights): these tests check the page's plumbing, whatever model the build bundles by default. The
    // VQA page's test (vqaDemo.test.ts) shares the build.
    await buildDemoSite();
    // Served from a copy: another test run building the site meanwhile must not change files under this one.
    served = await mkdtemp(join(tmpdir(), 'weblm-chat-demo-'));
    await cp(DEMO_DIR, join(served, 'demo'), { recursive: true });
    site = await serveStatic({ root: join(served, 'demo') });
    // A Hub look-alike serving the qwen3 fixture as `test/qwen3`, with a tokenizer whose template opens <think>.
    const text = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    hub = await startHubServer({
      root: FIXTURES,
      extra: {
        'qwen3/tokenizer.json': text(byteTokenizerJson()),
        'qwen3/tokenizer_config.json': text(byteTokenizerConfig()),
        // A repo whose embedding alone (4M x 8192 in bf16, 65 GB) is past any GPU's maxBufferSize.
        'huge/config.json': text({
          model_type: 'llama',
          hidden_size: 8192,
          num_hidden_layers: 2,
          intermediate_size: 16384,
          num_attention_heads: 64,
          vocab_size: 4_000_000,
          torch_dtype: 'bfloat16',
        }),
      },
    });
    rig = await startBrowserRig(); // for its Chromium (its dev server is not used here)
    context = await rig.browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.on('console', (m) => void (m.type() === 'error' && console.error(`[page] ${m.text()}`)));
    page.on('pageerror', (e) => console.error(`[page] ${e.stack ?? e}`));
    await page.goto(site.url);
  }, 240_000);
  afterAll(async () => {
    await rig?.close();
    await hub?.close();
    await site?.close();
    if (served) await rm(served, { recursive: true, force: true });
  });

  it('shows the bundled test model apart from the real checkpoints, with sizes at the chosen dtype', async () => {
    await page.waitForSelector('#load-bundled');
    expect(await page.textContent('#gpu-status')).toMatch(/^WebGPU: /);
    expect(await page.textContent('#bundled-model')).toMatch(/qwen3 test model.*Test model · random weights.*Works offline/);
    expect(await page.textContent('#empty-load-bundled')).toMatch(/bundled test model.*random weights/);
    const items = page.locator('#catalog > li');
    expect(await items.count()).toBe(CATALOG.length);
    const r1 = page.locator('#catalog > li[data-repo="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"]');
    expect(await r1.textContent()).toMatch(/Real weights.*Parameters1\.78BDownload3\.6 GB \(bf16\)GPU at bf16/);
    await page.selectOption('#set-dtype', 'q4_0');
    expect(await r1.textContent()).toMatch(/GPU at q4_01\.\d GB/);
    expect(await page.textContent('#catalog > li[data-repo="Qwen/Qwen3-30B-A3B"]')).toMatch(/Large GPU.*30\.5B \(3\.3\dB active\)/);
    await page.selectOption('#set-dtype', 'auto');
    // The service worker has precached the page and the bundled model.
    expect(await page.evaluate(() => (window as unknown as { weblmChat: { offlineReady: Promise<boolean> } }).weblmChat.offlineReady)).toBe(true);
    await shot('desktop-empty');
  }, 60_000);

  it('loads the bundled model with progress, streams a reply with stats, stops a long one, reuses the cached prefix', async () => {
    await page.evaluate(() => {
      const seen: string[] = ((window as unknown as { progressSeen: string[] }).progressSeen = []);
      const bytes = document.getElementById('load-bytes')!;
      new MutationObserver(() => seen.push(bytes.textContent ?? '')).observe(bytes, { childList: true, characterData: true, subtree: true });
    });
    await loadBundled();
    expect(await page.textContent('#current-model')).toMatch(/qwen3 test model\s*test model/);
    expect(await page.textContent('#transcript')).toMatch(/random/);
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen);
    expect(
      seen.some((t) => /^[\d.]+ KB \/ [\d.]+ KB \(\d+%\)$/.test(t)),
      seen.join(' | '),
    ).toBe(true);
    expect(await page.isVisible('#load-progress')).toBe(false);
    await setValue('#set-temperature', '0', 'input');
    await setValue('#set-max-tokens', '6', 'change');
    await send('Hi there');
    expect(await replyDone()).toMatch(/^6 tokens · first token [\d.]+ m?s · prefill \d+ tok at [\d.]+ tok\/s · decode [\d.]+ tok\/s · hit max tokens$/);
    expect(await page.locator('.message.user').last().textContent()).toContain('Hi there');
    expect((await lastReply().locator('.answer').textContent())!.length).toBeGreaterThan(0);

    // A long reply, stopped by the user as it streams (live stats show while it does).
    await setValue('#set-max-tokens', '200', 'change');
    await send('Tell me a long story');
    await page.waitForSelector('#stop:not([hidden])');
    await page.waitForFunction(
      () => {
        const m = document.querySelector('.message.assistant:last-child')!;
        return (
          m.getAttribute('aria-busy') === 'true' &&
          (m.querySelector('.answer')!.textContent ?? '').length > 0 &&
          /first token/.test(m.querySelector('.stats.live')?.textContent ?? '')
        );
      },
      undefined,
      { timeout: 60_000 },
    );
    await page.click('#stop');
    const stopped = await replyDone();
    expect(stopped).toMatch(/stopped$/);
    expect(Number(/^(\d+) tokens/.exec(stopped)?.[1])).toBeLessThan(200);
    expect(await page.isVisible('#send')).toBe(true);

    await setValue('#set-max-tokens', '4', 'change');
    await send('Thanks');
    expect(await replyDone()).toMatch(/\(\d+ cached\)/);
    expect(await replies().count()).toBe(3);
    expect(await page.isVisible('#error')).toBe(false);
    await shot('desktop-chat');
  }, 180_000);

  it('regenerates the last reply, and edits and resends the last message', async () => {
    const regenerate = async () => {
      await page.click('button[aria-label="Regenerate the last reply"]');
      await page.waitForSelector('.message.assistant[aria-busy="true"], .message.assistant:last-child button[aria-label="Regenerate the last reply"]');
      const done = await replyDone();
      expect(done).toMatch(/\(\d+ cached\)/);
      expect(await replies().count()).toBe(3);
      return { tokens: repliedTokens(done, 4), answer: await lastReply().locator('.answer').textContent() };
    };
    // Greedy: two regenerations from the same cached prompt give the same reply. (The first reply may differ
    // where two tokens nearly tie: its prompt's last token was forwarded in a chunk of the prompt, a
    // regeneration's alone, and the two kernels round differently.)
    const first = await regenerate();
    expect(first.answer!.length).toBeGreaterThan(0);
    expect(await regenerate()).toEqual(first);
    await page.click('button[aria-label="Edit the last message and send it again"]');
    expect(await page.inputValue('#prompt')).toBe('Thanks');
    expect(await page.locator('.message.user').count()).toBe(2);
    expect(await replies().count()).toBe(2);
    await send('Thanks a lot');
    await replyDone();
    expect(await page.locator('.message.user').last().textContent()).toContain('Thanks a lot');
    expect(await replies().count()).toBe(3);
  }, 120_000);

  it('keeps the conversation across a reload, in a list to switch between', async () => {
    const before = await page.locator('.message').allTextContents();
    await page.reload();
    await page.waitForSelector('.message.assistant');
    expect(await page.locator('.message').allTextContents()).toEqual(before);
    expect(await page.textContent('#conversations')).toContain('Hi there');
    expect(await page.textContent('#composer-load-bundled')).toBe('Load qwen3 test model'); // no model after a reload: one click
    // A new chat, then back to the first one from the list.
    await page.click('#new-chat');
    await page.waitForSelector('.message', { state: 'detached' });
    await page.click('#conversations button.conv-title:has-text("Hi there")');
    await page.locator('.message.user').nth(2).waitFor();
    expect(await page.locator('.message.user').count()).toBe(3);
    expect(await page.getAttribute('#conversations li.current button.conv-title', 'aria-current')).toBe('true');
  }, 60_000);

  it('loads and chats with the network off, from the service worker', async () => {
    await context.setOffline(true);
    try {
      await page.reload();
      await page.waitForSelector('#load-bundled', { timeout: 30_000 });
      expect(await page.evaluate(() => navigator.onLine)).toBe(false);
      expect(await page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
      expect(await page.textContent('#offline-status')).toBe('Offline');
      expect(await page.locator('.message.user').count()).toBe(3); // the conversation, from IndexedDB
      // The KV cache saved after the last reply is given back to the engine with the model: the next
      // reply reads only the new message, the history comes from the cache.
      await loadBundled();
      const note = page.locator('#transcript .note', { hasText: 'saved KV cache' });
      await note.waitFor({ timeout: 30_000 });
      const saved = Number(/\((\d+) tokens, /.exec((await note.textContent())!)?.[1]);
      expect(saved).toBeGreaterThan(40);
      await setValue('#set-max-tokens', '5', 'change');
      await send('Still there?');
      const line = await replyDone();
      repliedTokens(line, 5);
      const [, prefill, cached] = /prefill (\d+) tok at [\d.]+ tok\/s \((\d+) cached\)/.exec(line) ?? [];
      expect(Number(cached), line).toBeGreaterThan(saved / 2);
      expect(Number(prefill), line).toBeLessThan(Number(cached));
      await shot('desktop-offline');
    } finally {
      await context.setOffline(false);
    }
  }, 120_000);

  it('replies in JSON with the JSON mode setting (response_format json_object), shown as a code block, kept across reloads', async () => {
    await page.check('#set-json');
    await setValue('#set-max-tokens', '48', 'change');
    await send('A JSON object, please');
    await replyDone();
    const code = lastReply().locator('.code-block pre code.language-json');
    expect(await lastReply().locator('.code-bar').textContent()).toBe('jsonCopy');
    expect((await code.textContent())!.trimStart()).toMatch(/^\{/);
    await shot('desktop-json');
    await page.reload();
    await page.waitForSelector('.message.assistant');
    expect(await page.isChecked('#set-json')).toBe(true);
    expect((await lastReply().locator('pre code.language-json').textContent())!.trimStart()).toMatch(/^\{/);
    await page.uncheck('#set-json');
  }, 120_000);

  it('renders a Markdown reply with a code block, sanitized, with a Copy button', async () => {
    await page.evaluate(async () => {
      const w = (
        window as unknown as {
          weblmChat: { conversations: import('../../examples/chat/conversations.js').ConversationStore; showConversation(c: unknown): void };
        }
      ).weblmChat;
      const c = w.conversations.create('test');
      c.title = 'Markdown';
      c.messages.push(
        { role: 'user', content: 'A loop in Python?' },
        {
          role: 'assistant',
          content:
            'Here:\n\n```python\nfor i in range(3):\n    print(i)\n```\n\nIt prints **0, 1, 2**.<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> [docs](https://docs.python.org/)',
          stats: '20 tokens',
        },
      );
      await w.conversations.save(c);
      w.conversations.currentId = c.id;
    });
    await page.reload();
    const reply = page.locator('.message.assistant').last();
    await reply.waitFor();
    expect(await reply.locator('pre code.language-python').textContent()).toBe('for i in range(3):\n    print(i)\n');
    // Highlighted once highlight.js is loaded (on the first code block), the text unchanged.
    await reply.locator('pre code.hljs .hljs-keyword').first().waitFor({ timeout: 10_000 });
    expect(await reply.locator('pre code .hljs-keyword').allTextContents()).toEqual(['for', 'in']);
    expect(await reply.locator('pre code').textContent()).toBe('for i in range(3):\n    print(i)\n');
    expect(await reply.locator('.code-bar').textContent()).toMatch(/^pythonCopy$/);
    expect(await reply.locator('strong').textContent()).toBe('0, 1, 2');
    expect(await reply.locator('img, script').count()).toBe(0);
    expect(await reply.locator('a').getAttribute('rel')).toBe('noopener noreferrer');
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    await shot('desktop-markdown');
    await expectAccessibleLightAndDark(page, () => shot('desktop-markdown-dark'));
  }, 60_000);

  it('shows a typed error for a model that cannot be loaded', async () => {
    await page.click('summary:has-text("Another repo id")');
    await page.fill('#src-url', `${site.url}no-such-model/`);
    await page.click('form:has(#src-url) button');
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('#error')).toMatch(/ModelNotFoundError \(MODEL_NOT_FOUND\)/);
  }, 60_000);

  it('downloads a repo id with progress, resumes it after an interrupted download and a reload, and deletes it', async () => {
    await page.fill('#src-hub', hub.url);
    // Checked against the adapter's limits before any weight is downloaded (from its config.json alone).
    await page.fill('#src-repo', 'test/huge');
    await page.click('form:has(#src-repo) button[type="submit"]');
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('#error')).toMatch(
      /^GpuOutOfMemoryError \(GPU_OUT_OF_MEMORY\)test\/huge at bf16 .* does not fit: .*maxBufferSize.*Nothing was downloaded\./,
    );
    expect(hub.log.filter((r) => r.path.startsWith('/test/huge/') || r.path.includes('/test/huge')).map((r) => r.path)).toEqual([
      '/test/huge/resolve/main/config.json',
    ]);
    await page.click('button[aria-label="Dismiss error"]');
    await page.fill('#src-repo', 'test/qwen3');
    // The connection drops on every try: the download fails with what to do next, and stays listed.
    hub.faults.dropAfterBytes = 100_000;
    await page.click('form:has(#src-repo) button[type="submit"]');
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    expect(await page.textContent('#error')).toMatch(/NetworkError.*resumes.*Check the connection/);
    hub.faults.dropAfterBytes = undefined;
    await page.reload();
    const resume = page.locator('#resume-downloads');
    await resume.waitFor();
    expect(await resume.textContent()).toMatch(/test\/qwen3: .* of [\d.]+ KB stored/);
    await page.click('button[aria-label="Resume downloading test/qwen3"]');
    await page.waitForFunction(() => document.getElementById('model-info')!.textContent!.startsWith('test/qwen3'), undefined, { timeout: 60_000 });
    await page.waitForSelector('#resume-downloads', { state: 'hidden' });
    expect(hub.log.some((r) => r.path === '/test/qwen3/resolve/main/model.safetensors')).toBe(true);
    const cached = page.locator('#cached-models li', { hasText: 'test/qwen3' });
    expect(await cached.textContent()).toMatch(/\d+(\.\d)? KB/);
    expect(await page.textContent('#storage-estimate')).toMatch(/^Storage: .* used, .* free/);

    // The template opens <think>: the reply streams into the Thinking block, apart from the answer.
    await setValue('#set-max-tokens', '8', 'change');
    await send('Why?');
    await replyDone();
    const thinking = lastReply().locator('details.thinking');
    expect(await thinking.isVisible()).toBe(true);
    expect(await thinking.locator('summary').textContent()).toMatch(/^Thought for /);

    page.once('dialog', (d) => void d.accept());
    await page.click('button[aria-label="Delete test/qwen3"]');
    await page.waitForFunction(() => !document.getElementById('cached-models')!.textContent!.includes('test/qwen3'));
  }, 120_000);

  it('loads a folder picked from disk, and explains a chat it cannot serve', async () => {
    await page.setInputFiles('#src-folder', join(FIXTURES, 'qwen2'));
    await page.waitForFunction(() => document.getElementById('model-info')!.textContent!.startsWith('qwen2 — qwen2'), undefined, { timeout: 60_000 });
    expect(await page.textContent('#model-info')).toMatch(/no tokenizer\.json/); // the fixture folder has none
    await send('Hello');
    await page.waitForSelector('.message.assistant:last-child .inline-error', { timeout: 30_000 });
    expect(await lastReply().locator('.inline-error').textContent()).toMatch(/^InvalidArgumentError \(INVALID_ARGUMENT\): .*tokenizer/);
  }, 90_000);

  it('works from the keyboard alone: skip to the conversation, load the bundled model, send, stop', async () => {
    const ctx = await rig.browser.newContext({ viewport: { width: 1280, height: 860 } });
    try {
      const p = await ctx.newPage();
      await p.goto(site.url);
      await p.waitForSelector('#empty-load-bundled');
      const focused = () => p.evaluate(() => document.activeElement?.id || document.activeElement?.textContent || '');
      await p.keyboard.press('Tab');
      expect(await focused()).toBe('Skip to the conversation');
      await p.keyboard.press('Enter');
      expect(await focused()).toBe('transcript');
      await p.keyboard.press('Tab');
      expect(await focused()).toBe('empty-load-bundled');
      await p.keyboard.press('Enter');
      await p.waitForFunction(() => document.getElementById('model-info')!.textContent!.includes('qwen3, f32'), undefined, { timeout: 60_000 });
      await p.waitForFunction(() => document.activeElement?.id === 'prompt'); // the input box has the focus once loaded
      await p.keyboard.type('Typed without a mouse');
      await p.keyboard.press('Enter');
      await p.waitForSelector('#stop:not([hidden])');
      await p.keyboard.press('Tab'); // from the input box to Stop (New chat before it)
      await p.keyboard.press('Tab');
      expect(await focused()).toBe('stop');
      await p.keyboard.press('Enter');
      expect(await replyDone(p)).toMatch(/stopped$|hit max tokens$|^\d+ tokens/);
    } finally {
      await ctx.close();
    }
  }, 120_000);

  it('says what to do when the browser has no WebGPU', async () => {
    const ctx = await rig.browser.newContext({ viewport: { width: 1280, height: 860 } });
    try {
      const p = await ctx.newPage();
      await p.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
      await p.goto(site.url);
      await p.waitForSelector('#error:not([hidden])');
      expect(await p.textContent('#gpu-status')).toBe('WebGPU is not available in this browser.');
      expect(await p.textContent('#error')).toMatch(/^WebGPUUnavailableError \(WEBGPU_UNAVAILABLE\)navigator\.gpu is missing.*Try a recent Chrome or Edge/);
      // Nothing can be loaded: the load buttons are disabled rather than failing after a click.
      await p.waitForSelector('#load-bundled');
      expect(await p.isDisabled('#load-bundled')).toBe(true);
      expect(await p.isDisabled('#empty-load-bundled')).toBe(true);
      await shot('desktop-no-webgpu', p);
      expect(await axeViolations(p)).toEqual([]);
    } finally {
      await ctx.close();
    }
  }, 60_000);

  it('works under any path: the same build served from a subfolder', async () => {
    const parent = await serveStatic({ root: served });
    const ctx = await rig.browser.newContext();
    try {
      const p = await ctx.newPage();
      await p.goto(`${parent.url}demo/`);
      await p.waitForSelector('#load-bundled');
      expect(await p.textContent('#bundled-model')).toMatch(/Works offline/);
      expect(await p.evaluate(() => (window as unknown as { weblmChat: { offlineReady: Promise<boolean> } }).weblmChat.offlineReady)).toBe(true);
      expect(await p.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.scope)).toBe(`${parent.url}demo/`);
    } finally {
      await ctx.close();
      await parent.close();
    }
  }, 60_000);

  it('on a phone-sized screen, keeps the conversation and the input box in view, the models in a drawer', async () => {
    const phone = await rig.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      const p = await phone.newPage();
      await p.goto(site.url);
      await p.waitForSelector('#empty-load-bundled');
      expect(await p.isVisible('#sidebar #model-panel')).toBe(false);
      await shot('phone-empty', p);
      await loadBundled(p);
      await p.$eval('#set-max-tokens', (e) => (((e as HTMLInputElement).value = '12'), e.dispatchEvent(new Event('change'))));
      await send('Hello from a phone', p);
      await replyDone(p);
      const box = (await p.locator('#prompt').boundingBox())!;
      expect(box.y).toBeGreaterThan(400);
      expect(box.y + box.height).toBeLessThanOrEqual(844);
      expect(await p.isVisible('.message.user')).toBe(true);
      expect(await p.textContent('#current-model')).toMatch(/test model/);
      await shot('phone-chat', p);
      expect(await axeViolations(p)).toEqual([]);
      await p.click('#drawer-toggle');
      await p.waitForSelector('#sidebar #model-panel', { state: 'visible' });
      expect(await p.getAttribute('#drawer-toggle', 'aria-expanded')).toBe('true');
      await p.waitForTimeout(300); // the slide-in transition
      await shot('phone-drawer', p);
      await p.keyboard.press('Escape');
      await p.waitForSelector('#sidebar #model-panel', { state: 'hidden' });
      // Offline, reloaded: the conversation is back from IndexedDB, one tap from the bundled model.
      expect(await p.evaluate(() => (window as unknown as { weblmChat: { offlineReady: Promise<boolean> } }).weblmChat.offlineReady)).toBe(true);
      await phone.setOffline(true);
      await p.reload();
      await p.waitForSelector('.message.user');
      await p.waitForSelector('#composer-load-bundled');
      expect(await p.textContent('#offline-status')).toBe('Offline');
      await shot('phone-offline', p);
    } finally {
      await phone.close();
    }
  }, 120_000);
});
