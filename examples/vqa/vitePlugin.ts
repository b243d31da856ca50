// The VQA page inside the chat demo's build (examples/chat/vite.config.ts adds this plugin): one static
// site, two pages. The page's HTML lives in examples/vqa/index.html but is built as `vqa.html` beside the
// chat's index.html (vite names an HTML output by its path under the root, examples/chat/), so it is
// served to vite as the virtual file examples/chat/vqa.html. Its bundled model (vqaBundle.ts) is copied
// to `vqa-model/` with a manifest (`vqa-model/bundle.json`); the dev server serves the same files.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Plugin } from 'vite';
import { LLAVA_CHAT_TEMPLATE } from '../../test/e2e/pages/llavaTokenizer.js';
import { BUNDLED_FILES, paddedByteTokenizer } from '../chat/bundledModel.js';
import { emitModelFiles, pickModelSource, serveModelFile } from '../shared/modelFiles.js';
import { SAMPLE_IMAGES, VQA_MODEL_DIRS, type VqaManifest } from './vqaBundle.js';

const repo = resolve(import.meta.dirname, '../..');
const html = join(repo, 'examples/vqa/index.html');
/** Where vite believes the page's HTML is (the build root is examples/chat/). */
export const VQA_HTML_ID = join(repo, 'examples/chat/vqa.html');

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** The bundled VQA model's files (path under vqa-model/ → bytes), a tokenizer added to a test fixture. */
function vqaModelFiles(): Map<string, Uint8Array> {
  const source = pickModelSource(repo, VQA_MODEL_DIRS, process.env.WEBLM_VQA_MODEL, 'VQA model', 'VQA_MODEL_DIRS');
  const dir = join(repo, source.dir);
  const files = new Map<string, Uint8Array>();
  for (const name of readdirSync(dir).sort()) {
    if (BUNDLED_FILES.test(name) || name === 'preprocessor_config.json' || name === 'chat_template.json') files.set(name, readFileSync(join(dir, name)));
  }
  const samples: { path: string; label?: string }[] = [];
  const labels = join(dir, 'testset/labels.json');
  if (existsSync(labels)) {
    // A test split's pictures (tiny-fashion-vlm): the first of each label, in label order.
    const all = JSON.parse(readFileSync(labels, 'utf8')) as Record<string, { label: number; name: string }>;
    const first = new Map<number, [string, string]>();
    for (const [file, l] of Object.entries(all).sort()) if (!first.has(l.label)) first.set(l.label, [file, l.name]);
    for (const [, [file, label]] of [...first].sort(([a], [b]) => a - b)) samples.push({ path: `testset/${file}`, label });
  } else {
    for (const name of readdirSync(dir).sort()) if (SAMPLE_IMAGES.test(name) && samples.length < 8) samples.push({ path: name });
  }
  for (const s of samples) files.set(s.path, readFileSync(join(dir, s.path)));
  const config = JSON.parse(new TextDecoder().decode(files.get('config.json'))) as {
    model_type?: string;
    image_token_index?: number;
    text_config?: { vocab_size?: number };
  };
  if (!files.has('tokenizer.json')) {
    // The fixture's vocabulary: bytes, pseudo-words (so every sampled id shows as text), `<image>` last.
    const imageId = config.image_token_index ?? 511;
    const tok = paddedByteTokenizer(imageId) as { added_tokens: object[]; model: { vocab: Record<string, number> } };
    tok.added_tokens.push({ id: imageId, content: '<image>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    tok.model.vocab['<image>'] = imageId;
    files.set('tokenizer.json', json(tok));
  }
  if (!files.has('tokenizer_config.json')) files.set('tokenizer_config.json', json({ eos_token: '</s>', chat_template: LLAVA_CHAT_TEMPLATE }));
  const manifest: VqaManifest = {
    name: source.name,
    kind: source.kind,
    description: source.description,
    modelType: config.model_type ?? '?',
    files: [...files].filter(([p]) => !samples.some((s) => s.path === p)).map(([path, b]) => ({ path, size: b.byteLength })),
    samples,
    ...(source.questions ? { questions: source.questions } : {}),
  };
  files.set('bundle.json', json(manifest));
  return files;
}

export function vqaPage(): Plugin {
  let files: Map<string, Uint8Array> | undefined;
  const get = () => (files ??= vqaModelFiles());
  return {
    name: 'weblm-vqa-page',
    enforce: 'pre',
    resolveId(id) {
      return id === VQA_HTML_ID ? id : undefined;
    },
    load(id) {
      return id === VQA_HTML_ID ? readFileSync(html, 'utf8') : undefined;
    },
    configureServer(server) {
      server.middlewares.use(async (req, res, next) => {
        const url = req.url ?? '';
        // The chat page's ../shared/ links (file-relative in the build) reach the dev server as /shared/.
        if (url.startsWith('/shared/')) req.url = `/@fs${repo}/examples${url}`;
        if (/^\/vqa\.html(\?|$)/.test(url)) {
          res.setHeader('Content-Type', 'text/html');
          // The dev server serves files outside its root (examples/chat/) under /@fs/.
          const page = readFileSync(html, 'utf8').replace(/(["'])\.\.\/(vqa|chat|shared)\//g, `$1/@fs${repo}/examples/$2/`);
          return void res.end(await server.transformIndexHtml('/vqa.html', page));
        }
        if (!serveModelFile(url, 'vqa-model', get(), res)) next();
      });
    },
    generateBundle() {
      emitModelFiles((f) => this.emitFile(f), 'vqa-model', get());
    },
  };
}
