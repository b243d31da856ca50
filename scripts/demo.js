// `npm run demo`: builds the chat demo (examples/chat/) and the image Q&A page (examples/vqa/, vqa.html) as
// one static site into dist/demo/ and serves it on http://127.0.0.1:5173/ (PORT to change it) with a small
// static server that answers Range requests.
// `--build-only` builds and exits (the e2e test); `--no-build` serves the last build.
// `npm run dev` runs the vite dev server instead (hot reload, no service worker).
import { build } from 'vite';
import { resolve } from 'node:path';
import { serveStatic } from './staticServer.js';

const root = resolve(import.meta.dirname, '..');
// A production build whatever the caller's NODE_ENV (vitest sets 'test', which would make vite build a
// page with import.meta.env.PROD false, and so without its service worker).
process.env.NODE_ENV = 'production';
if (!process.argv.includes('--no-build')) {
  console.log('Building the chat demo into dist/demo/ …');
  await build({ configFile: resolve(root, 'examples/chat/vite.config.ts'), logLevel: 'warn' });
}
if (process.argv.includes('--build-only')) process.exit(0);
const port = Number(process.env.PORT ?? 5173);
const { url } = await serveStatic({ root: resolve(root, 'dist/demo'), port }).catch((e) => {
  if (e?.code !== 'EADDRINUSE') throw e;
  console.error(`Port ${port} is in use (another demo?). Start it on another one: PORT=5174 npm run demo`);
  process.exit(1);
});
console.log(`weblm chat demo: ${url}  image Q&A: ${url}vqa.html  (Ctrl+C to stop)`);
