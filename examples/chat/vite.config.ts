// The chat demo as a static site: `npm run demo` builds it into dist/demo/ and serves that
// (scripts/demo.js); `npm run dev` runs the vite dev server on examples/chat/.
//
// - `base: './'`: every URL in the build is relative, so the folder can be hosted under any path.
// - The bundled model (bundledModel.ts: the first of BUNDLED_MODEL_DIRS that exists) is copied to
//   `model/` with a manifest (`model/bundle.json`); the dev server serves the same files there.
// - vite-plugin-pwa (Workbox) writes a service worker that precaches the app shell, the worker, and the
//   bundled model, so after one visit the page loads and chats with the network off.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { BUNDLED_FILES, BUNDLED_MODEL_DIRS, paddedByteTokenizer, TEST_TOKENIZER_CONFIG, type BundleManifest } from './bundledModel.js';
import { VQA_HTML_ID, vqaPage } from '../vqa/vitePlugin.js';
import { emitModelFiles, pickModelSource, serveModelFile } from '../shared/modelFiles.js';

const repo = resolve(import.meta.dirname, '../..');

/** The bundled model's files (path under model/ → bytes), the tokenizer added to a test fixture. */
function bundledModelFiles(): Map<string, Uint8Array> {
  // WEBLM_DEMO_MODEL=<dir> picks one of BUNDLED_MODEL_DIRS (the e2e test pins the test fixture with it).
  const source = pickModelSource(repo, BUNDLED_MODEL_DIRS, process.env.WEBLM_DEMO_MODEL, 'bundled model', 'BUNDLED_MODEL_DIRS');
  const dir = join(repo, source.dir);
  const files = new Map<string, Uint8Array>();
  for (const name of readdirSync(dir).sort()) if (BUNDLED_FILES.test(name)) files.set(name, readFileSync(join(dir, name)));
  const config = JSON.parse(new TextDecoder().decode(files.get('config.json'))) as { model_type?: string; vocab_size?: number };
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  if (!files.has('tokenizer.json')) files.set('tokenizer.json', json(paddedByteTokenizer(config.vocab_size ?? 512)));
  if (!files.has('tokenizer_config.json')) files.set('tokenizer_config.json', json(TEST_TOKENIZER_CONFIG));
  const manifest: BundleManifest = {
    name: source.name,
    kind: source.kind,
    description: source.description,
    modelType: config.model_type ?? '?',
    files: [...files].map(([path, b]) => ({ path, size: b.byteLength })),
  };
  files.set('bundle.json', json(manifest));
  return files;
}

function bundledModel(): Plugin {
  let files: Map<string, Uint8Array> | undefined;
  const get = () => (files ??= bundledModelFiles());
  return {
    name: 'weblm-bundled-model',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        if (!serveModelFile(req.url ?? '', 'model', get(), res)) next();
      });
    },
    generateBundle() {
      emitModelFiles((f) => this.emitFile(f), 'model', get());
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  publicDir: 'public',
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [repo] } },
  preview: { host: '127.0.0.1' },
  // keepNames: weblm's typed errors take their `name` from the class (new.target.name), which the page
  // shows and the worker boundary rebuilds them by; a minifier that renames classes would make them 'fe'.
  worker: { format: 'es', rolldownOptions: { output: { keepNames: true } } },
  build: {
    outDir: join(repo, 'dist/demo'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    // Two pages: the chat (index.html) and the VQA page (vqa.html, from examples/vqa/: ../vqa/vitePlugin.ts).
    rolldownOptions: { input: { index: join(import.meta.dirname, 'index.html'), vqa: VQA_HTML_ID }, output: { keepNames: true } },
  },
  plugins: [
    bundledModel(),
    vqaPage(),
    VitePWA({
      registerType: 'autoUpdate',
      injectRegister: false, // main.ts registers it (workbox-window), and shows when it is ready
      manifest: {
        name: 'weblm chat',
        short_name: 'weblm',
        description: 'Chat with a language model on your own GPU, in the browser, offline.',
        start_url: './',
        scope: './',
        display: 'standalone',
        background_color: '#f5f6f8',
        theme_color: '#2f5bea',
        icons: [{ src: 'icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' }],
      },
      workbox: {
        // The app shell, the engine's worker and the bundled model (a test fixture is under 1 MB; the
        // trained tiny model is limited to 25 MB in git by issue 16).
        globPatterns: ['**/*.{html,js,css,svg,webmanifest,json,safetensors,jinja,png,jpg}'],
        maximumFileSizeToCacheInBytes: 64 << 20,
        navigateFallback: 'index.html',
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
});
