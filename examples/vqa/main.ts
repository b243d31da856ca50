// weblm image Q&A: a picture and a question in, the answer streamed out, on the engine in a Web Worker
// (createEngine). The model: the one bundled with the page (vqaBundle.ts; works offline), a llava
// checkpoint from the Hub (downloaded once), a URL or a folder on disk. A follow-up question about the same
// picture sends the conversation again: the engine reuses its cached prefix, so the picture is not encoded
// again. The chat page's transcript, error texts and service worker serve this page too.
import {
  createEngine,
  downloadModel,
  isModelCached,
  pickedFolder,
  type ChatMessage,
  type EngineInfo,
  type GenerationStats,
  type LocalFile,
  type ModelSource,
} from '../../src/index.js';
import { progressLine, RateMeter } from '../chat/downloads.js';
import { formatBytes, isAbort } from '../chat/format.js';
import { Transcript } from '../chat/transcript.js';
import { createImageInput } from './imageInput.js';
import type { VqaManifest } from './vqaBundle.js';
import { $, bundledSource, el, requestAdapter, setupComposer, setupDrawer, showError, showProgress, uploadProgress, watchOffline } from '../shared/page.js';

type Choice =
  | { readonly kind: 'bundled'; readonly manifest: VqaManifest }
  | { readonly kind: 'repo'; readonly repo: string; readonly hubUrl: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'folder'; readonly name: string; readonly files: readonly LocalFile[] };

/** A question and its answer about the current picture (the first question carries the picture). */
interface Turn {
  readonly question: string;
  answer?: string;
}

const engine = createEngine();
const transcript = new Transcript($('transcript'));
const prompt = $<HTMLTextAreaElement>('prompt');
const send = $<HTMLButtonElement>('send');
const stop = $<HTMLButtonElement>('stop');
const drawer = setupDrawer();

let info: EngineInfo | undefined;
let bundle: VqaManifest | undefined;
let loading: AbortController | undefined;
let replying: AbortController | undefined;
let image: { blob: Blob; name: string } | undefined;
let turns: Turn[] = [];

const images = createImageInput((blob, name) => void setImage(blob, name), showError);

// ---------------------------------------------------------------- errors, controls

function updateControls(): void {
  const busy = !!loading || !!replying;
  const chips = $('questions');
  chips.hidden = !info || !bundle?.questions || !info.model.startsWith(bundle.name);
  for (const b of chips.querySelectorAll<HTMLButtonElement>('button')) b.disabled = busy || !image;
  prompt.disabled = !info || !!loading;
  prompt.placeholder = !info ? 'Load a model to ask' : image ? 'Ask about the picture (Enter to send)' : 'Choose a picture first';
  send.disabled = !info || !image || busy;
  send.hidden = !!replying;
  stop.hidden = !replying;
  images.setBusy(!!replying);
  for (const b of document.querySelectorAll<HTMLButtonElement>('#model-panel button:not(#load-cancel), #empty-load-bundled')) b.disabled = busy;
  $<HTMLInputElement>('src-folder').disabled = busy;
}

function progress(phase: string, line?: string, fraction?: number): void {
  if (loading) showProgress(phase, line, fraction); // else a progress event that crossed the worker after the load ended
}

// ---------------------------------------------------------------- the model

async function fetchBundle(): Promise<VqaManifest | undefined> {
  try {
    const res = await fetch(new URL('vqa-model/bundle.json', document.baseURI));
    return res.ok ? ((await res.json()) as VqaManifest) : undefined;
  } catch {
    return undefined;
  }
}

/** What the bundled model is, said plainly: a trained one's limits, or a test model's random weights. */
const kindBadge = (m: VqaManifest) =>
  el('span', {
    className: `badge ${m.kind === 'test' ? 'test' : 'real'}`,
    textContent: m.kind === 'test' ? 'Test model - random weights' : 'Trained here · Fashion-MNIST only',
  });

function showBundle(m: VqaManifest | undefined): void {
  const box = $('bundled-model');
  if (!m) return void box.replaceChildren(el('p', { className: 'muted small', textContent: 'This build has no bundled model.' }));
  const go = el('button', { type: 'button', id: 'load-bundled', className: 'small-button', textContent: 'Load' });
  go.setAttribute('aria-label', `Load the bundled model ${m.name}`);
  go.addEventListener('click', () => void loadModel({ kind: 'bundled', manifest: m }));
  const bytes = m.files.reduce((a, f) => a + f.size, 0);
  box.replaceChildren(
    el(
      'div',
      { className: 'card-head' },
      el('strong', { textContent: m.name }),
      kindBadge(m),
      el('span', { className: 'badge offline', textContent: 'Works offline' }),
    ),
    el('p', { className: 'small', textContent: m.description }),
    el(
      'div',
      { className: 'card-foot' },
      el('span', { className: 'muted small', textContent: `${m.modelType} · ${formatBytes(bytes)}, ships with this page` }),
      go,
    ),
  );
  // Sample pictures as thumbnails, named by what they show where the model's folder says so.
  $('samples').replaceChildren(
    ...m.samples.map((sample, i) => {
      const what = sample.label ? `Sample picture ${i + 1}: ${sample.label.toLowerCase()}` : `Sample picture ${i + 1}`;
      const b = el('button', { type: 'button', className: 'secondary sample', title: what });
      b.setAttribute('aria-label', what);
      b.append(el('img', { src: new URL(`vqa-model/${sample.path}`, document.baseURI).href, alt: '', width: 28, height: 28 }));
      b.addEventListener('click', async () => {
        try {
          const res = await fetch(new URL(`vqa-model/${sample.path}`, document.baseURI));
          if (!res.ok) throw new Error(`vqa-model/${sample.path}: HTTP ${res.status}`);
          await setImage(await res.blob(), sample.label ? `sample ${i + 1} (${sample.label.toLowerCase()})` : sample.path);
        } catch (e) {
          showError(e);
        }
      });
      return b;
    }),
  );
  updateControls();
}

async function loadModel(choice: Choice): Promise<void> {
  if (loading || replying) return;
  showError(undefined);
  loading = new AbortController();
  const { signal } = loading;
  info = undefined;
  updateControls();
  $('model-info').textContent = 'Loading…';
  try {
    let source: ModelSource;
    if (choice.kind === 'repo') {
      if (!(await isModelCached(choice.repo).catch(() => false))) {
        const meter = new RateMeter();
        progress(`Downloading ${choice.repo}`);
        await downloadModel(choice.repo, {
          baseUrl: choice.hubUrl,
          signal,
          onProgress: (p) => progress(`Downloading ${choice.repo}`, progressLine(p.bytes, p.total, meter.add(p.bytes)), p.fraction),
        });
      }
      source = choice.repo;
    } else if (choice.kind === 'url') source = { url: choice.url };
    else if (choice.kind === 'folder') source = { blobs: choice.files, name: choice.name };
    else {
      progress(`Reading ${choice.manifest.name}`);
      source = await bundledSource(choice.manifest, 'vqa-model', signal);
    }
    progress('Preparing');
    const loaded = await engine.load(source, {
      signal,
      onProgress: uploadProgress(progress),
    });
    if (!loaded.vision) {
      await engine.unload();
      throw Object.assign(
        new Error(
          `${loaded.model} (${loaded.modelType}) has no vision encoder: this page needs a llava-architecture model. Text models chat on the chat page.`,
        ),
        {
          name: 'UnsupportedModelError',
          code: 'UNSUPPORTED_MODEL',
        },
      );
    }
    if (!loaded.hasTokenizer || !loaded.hasChatTemplate) {
      await engine.unload();
      throw Object.assign(new Error(`${loaded.model} has no ${loaded.hasTokenizer ? 'chat template' : 'tokenizer.json'}: questions need one`), {
        name: 'InvalidModelError',
        code: 'INVALID_MODEL',
      });
    }
    info = loaded;
    const v = loaded.vision;
    $('model-info').textContent =
      `${info.model} — ${info.modelType}, ${info.dtype}, ${v.imageSize} x ${v.imageSize} pictures as ${v.tokensPerImage} tokens, context ${info.contextLength}, ${formatBytes(info.memoryBytes)} of GPU memory`;
    showCurrentModel(choice.kind === 'bundled' ? choice.manifest : undefined);
    if (turns.length) transcript.addNote(`${info.model} is loaded: the next question starts over with the picture.`);
    turns = [];
    if (!$('transcript').querySelector('.message')) showEmpty();
    drawer.close();
    (image ? prompt : $('choose-image')).focus();
  } catch (e) {
    info = undefined;
    $('model-info').textContent = isAbort(e) ? 'Loading cancelled.' : 'No model loaded.';
    showCurrentModel(undefined);
    if (!isAbort(e)) showError(e);
  } finally {
    loading = undefined;
    $('load-progress').hidden = true;
    $('composer-status').textContent = '';
    updateControls();
  }
}

/** One-click questions the bundled model was trained on. */
function showQuestions(m: VqaManifest | undefined): void {
  $('questions').replaceChildren(
    ...(m?.questions ?? []).map((q) => {
      const b = el('button', { type: 'button', className: 'secondary small-button', textContent: q });
      b.addEventListener('click', () => void ask(q));
      return b;
    }),
  );
}

function showCurrentModel(m: VqaManifest | undefined): void {
  const name = el('span', { className: 'name', textContent: info?.model ?? 'No model loaded' });
  // Short in the top bar (it stays visible when the name is cut short); the card says it in full.
  const badge = m && el('span', { className: `badge ${m.kind === 'test' ? 'test' : 'real'}`, textContent: m.kind === 'test' ? 'test model' : 'trained here' });
  if (badge)
    badge.title = m!.kind === 'test' ? 'Random weights: its answers are gibberish.' : 'A tiny llava trained on Fashion-MNIST: it names garments, nothing else.';
  $('current-model').replaceChildren(name, ...(badge ? [badge] : []));
}

// ---------------------------------------------------------------- the picture and the questions

/** What an empty conversation says: how to start, and what the loaded model can do. */
function showEmpty(): void {
  const box = el('div', { className: 'empty' });
  if (!info) {
    box.append(el('p', { textContent: 'Pick a picture and ask about it. Everything runs on your GPU, in this tab: the picture never leaves it.' }));
    if (bundle) {
      const go = el('button', {
        type: 'button',
        id: 'empty-load-bundled',
        textContent: bundle.kind === 'test' ? `Load the bundled test model (${bundle.name}, random weights)` : `Load the bundled model (${bundle.name})`,
      });
      go.addEventListener('click', () => void loadModel({ kind: 'bundled', manifest: bundle! }));
      box.append(el('div', { className: 'empty-actions' }, go));
    }
  } else if (bundle && info.model.startsWith(bundle.name)) {
    box.append(
      el('p', {
        className: 'muted',
        textContent:
          bundle.kind === 'test'
            ? `${info.model} is loaded. Its weights are random: its answers are gibberish, but the picture goes through the vision tower and every part of the page works.`
            : `${info.model} is loaded. It was trained on Fashion-MNIST only: give it a 28 x 28 grayscale picture of one garment (the samples are held-out test pictures) and ask what it is, or a question below. It knows nothing else.`,
      }),
    );
  } else
    box.append(el('p', { className: 'muted', textContent: `${info.model} is loaded. ${image ? 'Ask about the picture.' : 'Choose a picture, then ask.'}` }));
  transcript.clear(box);
}

async function setImage(blob: Blob, name: string): Promise<void> {
  if (replying) return;
  try {
    (await createImageBitmap(blob)).close();
  } catch {
    return showError(Object.assign(new Error(`${name} could not be decoded as an image`), { name: 'InvalidImageError', code: 'INVALID_IMAGE' }));
  }
  showError(undefined);
  image = { blob, name };
  images.show(blob, name);
  turns = [];
  showEmpty();
  updateControls();
  if (info) prompt.focus();
}

/** The conversation as the engine sees it: the picture in the first question, then text turns. */
function messages(question: string): ChatMessage[] {
  const all = [...turns.filter((t) => t.answer !== undefined), { question }];
  return all.flatMap((t, i): ChatMessage[] => [
    i === 0
      ? {
          role: 'user',
          content: [
            { type: 'image', image: image!.blob },
            { type: 'text', text: t.question },
          ],
        }
      : { role: 'user', content: t.question },
    ...(t.answer !== undefined ? [{ role: 'assistant' as const, content: t.answer }] : []),
  ]);
}

async function ask(question: string): Promise<void> {
  if (!info || !image || replying || loading) return;
  showError(undefined);
  const first = !turns.some((t) => t.answer !== undefined);
  transcript.addUser(question);
  if (first) {
    const preview = $<HTMLImageElement>('image-preview');
    const thumb = el('img', {
      className: `thumb${preview.classList.contains('pixelated') ? ' pixelated' : ''}`,
      src: preview.src,
      alt: `The picture: ${image.name}`,
    });
    $('transcript').querySelector('.message.user:last-of-type .answer')?.before(thumb);
  }
  const reply = transcript.addAssistant();
  replying = new AbortController();
  updateControls();
  const turn: Turn = { question };
  const encodedBefore = info.vision?.imagesEncoded ?? 0;
  let finish: string | null = null;
  let stats: GenerationStats | undefined;
  try {
    const stream = await engine.chat.completions.create({
      messages: messages(question),
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: Math.max(1, Number($<HTMLInputElement>('set-max-tokens').value) || 64),
      temperature: Math.max(0, Number($<HTMLInputElement>('set-temperature').value) || 0),
      signal: replying.signal,
    });
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (c?.delta.content) reply.addContent(c.delta.content);
      if (c?.finish_reason) finish = c.finish_reason;
      if (chunk.stats) stats = chunk.stats;
    }
    reply.finish(finish, stats);
    turn.answer = reply.content;
    turns.push(turn);
    const now = await engine.info();
    if (now?.vision && info) {
      info = now;
      const encoded = now.vision.imagesEncoded - encodedBefore;
      reply.root.append(
        el('p', {
          className: 'image-note muted small',
          textContent: encoded > 0 ? 'The picture went through the vision tower.' : 'The picture’s features came from the cache.',
        }),
      );
    }
  } catch (e) {
    if (isAbort(e)) reply.finish('abort', undefined);
    else reply.fail(e);
  } finally {
    replying = undefined;
    updateControls();
    prompt.focus();
  }
}

setupComposer(
  prompt,
  () => !!info && !!image && !replying,
  (q) => void ask(q),
);
stop.addEventListener('click', () => replying?.abort());
$('load-cancel').addEventListener('click', () => loading?.abort());

$('repo-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const repo = $<HTMLInputElement>('src-repo').value.trim();
  const hubUrl = $<HTMLInputElement>('src-hub').value.trim() || 'https://huggingface.co';
  if (!/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(repo))
    return showError(
      Object.assign(new Error(`${repo || 'an empty id'} is not a repo id (owner/name)`), { name: 'InvalidArgumentError', code: 'INVALID_ARGUMENT' }),
    );
  void loadModel({ kind: 'repo', repo, hubUrl });
});
$('url-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void loadModel({ kind: 'url', url: $<HTMLInputElement>('src-url').value.trim() });
});
$<HTMLInputElement>('src-folder').addEventListener('change', (ev) => {
  const input = ev.target as HTMLInputElement;
  const files = [...(input.files ?? [])];
  if (!files.length) return;
  const name = files[0]!.webkitRelativePath.split('/')[0] || 'local folder';
  void loadModel({ kind: 'folder', name, files: pickedFolder(files) });
  input.value = '';
});

const offlineReady = watchOffline();

void requestAdapter();
showEmpty();
updateControls();
void fetchBundle().then((m) => {
  bundle = m;
  showBundle(m);
  showQuestions(m);
  if (!info && !$('transcript').querySelector('.message')) showEmpty();
  updateControls();
});
// For the console and the e2e test.
(window as unknown as { weblmVqa: unknown }).weblmVqa = { engine, offlineReady };
