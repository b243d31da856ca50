/**
 * recordProfile in headless Chromium (Debian's, SwiftShader without a GPU): a vite dev server serves
 * bench/recordProfile.html, which runs recordProfileCore.ts in the page. Run from the repository root:
 *
 *   npm run build && node dist/bench/recordProfileBrowser.js [--layers 28] [--steps 200] [--replay both]
 */
import { parseArgs } from 'node:util';
import { startBrowserRig } from '../test/helpers/browser.js';

const { values: a } = parseArgs({
  options: {
    layers: { type: 'string', default: '28' },
    steps: { type: 'string', default: '200' },
    dtype: { type: 'string', default: 'q4_0' },
    replay: { type: 'string', default: 'both' },
  },
});
const rig = await startBrowserRig();
try {
  const page = await rig.open('/bench/recordProfile.html');
  await page.waitForFunction(() => (window as unknown as { profileReady?: boolean }).profileReady === true);
  const o = { layers: Number(a.layers), steps: Number(a.steps), dtype: a.dtype, replay: a.replay };
  const r = await page.evaluate((o) => (window as unknown as { runProfile(o: unknown): Promise<unknown> }).runProfile(o), o);
  const { adapter, figures } = r as { adapter: unknown; figures: unknown[] };
  console.log(JSON.stringify({ browser: rig.browser.version(), adapter }));
  for (const f of figures) console.log(JSON.stringify(f));
} finally {
  await rig.close();
}
