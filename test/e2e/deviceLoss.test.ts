import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalEngine } from '../../src/engine/localEngine.js';
import type { GenerateChunk } from '../../src/engine/types.js';
import { DeviceLostError } from '../../src/errors.js';
import type { GpuContext } from '../../src/gpu/context.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import { openNodeSource } from '../../src/node/nodeEngine.js';
import { startBrowserRig, type BrowserRig } from '../helpers/browser.js';
import { fixtureDir } from '../helpers/fixtures.js';

const PROMPT = [1, 5, 9, 17, 33];

describe('device loss in Node (Dawn): device.destroy() mid-stream', () => {
  const state: { ctx?: GpuContext; contexts: number } = { contexts: 0 };
  const engine = new LocalEngine({
    gpu: async () => {
      state.contexts++;
      return (state.ctx = await createNodeGpu());
    },
    openFiles: openNodeSource,
  });
  afterAll(() => engine.dispose());

  it('ends the stream with DeviceLostError, refuses to generate on the lost device, and loads again on a new one', async () => {
    await engine.load(fixtureDir('llama'), { maxContext: 128 });
    const lost = state.ctx!;
    const chunks: GenerateChunk[] = [];
    const run = async () => {
      for await (const c of engine.generate({ ids: PROMPT }, { temperature: 0, maxTokens: 16 })) {
        chunks.push(c);
        if (chunks.length === 3) lost.device.destroy();
      }
    };
    await expect(run()).rejects.toBeInstanceOf(DeviceLostError);
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    expect(chunks.length).toBeLessThan(16);
    await expect(engine.generate({ ids: PROMPT }, { maxTokens: 2 }).next()).rejects.toBeInstanceOf(DeviceLostError);

    const info = await engine.load(fixtureDir('llama'), { maxContext: 128 });
    expect(state.contexts).toBe(2);
    expect(state.ctx).not.toBe(lost);
    expect(info.cachedTokens).toBe(0);
    const again: GenerateChunk[] = [];
    for await (const c of engine.generate({ ids: PROMPT }, { temperature: 0, maxTokens: 5 })) again.push(c);
    expect(again.at(-1)!.finishReason).toBe('length');
    expect(again.flatMap((c) => c.tokenIds).length).toBe(5);
  });
});

type Outcome = { chunks: number; finishReason?: string; error: null | { name: string; code?: string; message: string } };
type Api = {
  load(url: string): Promise<unknown>;
  generate(ids: number[], maxTokens: number, loseAfter?: number): Promise<Outcome>;
  contexts(): Promise<number>;
};

describe('device loss in headless Chromium, through the worker engine', () => {
  let rig: BrowserRig;
  let page: Page;
  const call = <K extends keyof Api>(name: K, ...args: Parameters<Api[K]>) =>
    page.evaluate(
      ([n, a]) => (window as unknown as { weblmDeviceLoss: Record<string, (...x: unknown[]) => unknown> }).weblmDeviceLoss[n as string]!(...(a as unknown[])),
      [name, args] as const,
    ) as ReturnType<Api[K]>;

  beforeAll(async () => {
    rig = await startBrowserRig();
    page = await rig.open('/test/e2e/pages/deviceLoss.html');
    await page.waitForFunction(() => (window as unknown as { weblmReady?: boolean }).weblmReady === true);
  });
  afterAll(async () => rig?.close());

  it('ends the stream with DeviceLostError on the page and loads again without a reload', async () => {
    const url = `${rig.baseUrl}/test/fixtures/llama/`;
    await call('load', url);
    const before = await call('generate', PROMPT, 4);
    expect(before).toEqual({ chunks: 5, finishReason: 'length', error: null });
    const lost = await call('generate', PROMPT, 16, 3);
    expect(lost.error?.name).toBe('DeviceLostError');
    expect(lost.error?.code).toBe('DEVICE_LOST');
    expect(lost.chunks).toBeLessThan(16);
    expect((await call('generate', PROMPT, 2)).error?.name).toBe('DeviceLostError');
    await call('load', url);
    expect(await call('contexts')).toBe(2);
    expect(await call('generate', PROMPT, 4)).toEqual(before);
  });
});
