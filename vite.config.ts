import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// One vite config for the end-to-end test pages (dev server) and the browser library build (`vite build`:
// dist/browser/, with every shader inlined as text). The dev server serves files of the repository only
// (test/fixtures included). The chat demo has its own: examples/chat/vite.config.ts (`npm run demo`, `npm run dev`).
export default defineConfig({
  server: { host: '127.0.0.1', fs: { allow: ['.'] } },
  preview: { host: '127.0.0.1' },
  worker: { format: 'es' },
  // Imported lazily (the first constrained request): pre-bundled up front, so a page does not reload when the dev server finds it.
  optimizeDeps: { include: ['@mlc-ai/web-xgrammar'] },
  build: {
    outDir: 'dist/browser',
    lib: {
      entry: { weblm: resolve(import.meta.dirname, 'src/index.ts'), worker: resolve(import.meta.dirname, 'src/worker/index.ts') },
      formats: ['es'],
    },
    rollupOptions: { external: ['webgpu', /^node:/] },
  },
});
