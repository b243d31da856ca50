import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import axe from 'axe-core';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
/** The built site `npm run demo` serves: the chat page (index.html) and the VQA page (vqa.html). */
export const DEMO_DIR = join(ROOT, 'dist/demo');
const LOCK = join(ROOT, 'dist/.demo-build.lock');
const STAMP = join(ROOT, 'dist/.demo-build.stamp');

/**
 * Builds the demo as `npm run demo` does (scripts/demo.js --build-only), once per vitest run, its bundled
 * models pinned: the qwen3 test fixture for the chat, the trained tiny-fashion-vlm for the VQA page. The
 * e2e tests of both pages call this; the second one (in another worker, at the same time or later) waits
 * for the first one's build and reuses it. A run is the vitest process, the parent of its test workers.
 */
export async function buildDemoSite(): Promise<void> {
  const run = `vitest ${process.ppid}`;
  await mkdir(join(ROOT, 'dist'), { recursive: true });
  for (const start = Date.now(); ;) {
    try {
      await mkdir(LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = Date.now() - (await stat(LOCK).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 300_000) await rm(LOCK, { recursive: true, force: true }); // left by a killed run
      if (Date.now() - start > 300_000) throw new Error(`the demo build lock ${LOCK} is held for 5 minutes`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    if ((await readFile(STAMP, 'utf8').catch(() => '')) === run) return;
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/demo.js'), '--build-only'], {
      cwd: ROOT,
      env: { ...process.env, WEBLM_DEMO_MODEL: 'test/fixtures/qwen3', WEBLM_VQA_MODEL: 'models/tiny-fashion-vlm' },
    });
    await writeFile(STAMP, run);
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}

/** What axe-core finds on a page against WCAG 2.1 A/AA and its best practices, one line per rule. */
export async function axeViolations(p: Page): Promise<string[]> {
  await p.addScriptTag({ content: axe.source });
  const result = await p.evaluate(() =>
    (window as unknown as { axe: typeof axe }).axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }),
  );
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** No axe-core violations in the light color scheme, nor in the dark one, where `darkShot` takes its screenshot; light again after. */
export async function expectAccessibleLightAndDark(p: Page, darkShot: () => Promise<unknown>): Promise<void> {
  expect(await axeViolations(p)).toEqual([]);
  await p.emulateMedia({ colorScheme: 'dark' });
  try {
    expect(await axeViolations(p)).toEqual([]);
    await darkShot();
  } finally {
    await p.emulateMedia({ colorScheme: 'light' });
  }
}
