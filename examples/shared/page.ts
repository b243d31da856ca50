// What the demo's two pages (the chat, examples/chat; the image Q&A, examples/vqa) share around their own
// content, by the element ids both index.html files use: lookups, the error box, the load progress, the files of
// a bundled model, the drawer of narrow screens, the WebGPU status line, and the offline status with the
// service worker (sw.js, written by vite-plugin-pwa at build time: it precaches both pages, the worker and the
// bundled models).
import { Workbox } from 'workbox-window';
import type { LocalFile, ModelSource } from '../../src/index.js';
import type { BundleManifest } from '../chat/bundledModel.js';
import { describeError, formatBytes } from '../chat/format.js';

export const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, unknown> = {}, ...children: (Node | string)[]) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

/** The error box (#error): describeError's title, message and hint with a dismiss button; undefined hides it. */
export function showError(e: unknown): void {
  const box = $('error');
  if (e === undefined) return void (box.hidden = true);
  const v = describeError(e);
  const close = el('button', { type: 'button', className: 'link close', textContent: '×', title: 'Dismiss' });
  close.setAttribute('aria-label', 'Dismiss error');
  close.addEventListener('click', () => (box.hidden = true));
  box.replaceChildren(
    el('strong', { textContent: v.title }),
    el('div', { textContent: v.message }),
    ...(v.hint ? [el('div', { className: 'hint', textContent: v.hint })] : []),
    close,
  );
  box.hidden = false;
}

/** A load's progress in the drawer (#load-progress: phase, bar, bytes) and in the composer's status line. */
export function showProgress(phase: string, line?: string, fraction?: number): void {
  $('load-progress').hidden = false;
  $('load-phase').textContent = phase;
  $('composer-status').textContent = phase + (fraction !== undefined ? ` ${Math.floor(fraction * 100)}%` : '');
  const bar = $<HTMLProgressElement>('load-bar');
  if (fraction === undefined) bar.removeAttribute('value');
  else bar.value = fraction;
  $('load-bytes').textContent = line ?? '';
}

/** engine.load's onProgress, as a progress line: the weights uploaded to the GPU so far. */
export const uploadProgress =
  (progress: (phase: string, line?: string, fraction?: number) => void) =>
  (p: { readonly loaded: number; readonly total: number }): void =>
    progress(
      'Uploading weights to the GPU',
      `${formatBytes(p.loaded)} / ${formatBytes(p.total)} (${Math.floor((100 * p.loaded) / p.total)}%)`,
      p.total ? p.loaded / p.total : undefined,
    );

/** The model bundled with the page (its files fetched from `dir`/ beside it) as an engine source. */
export async function bundledSource(m: BundleManifest, dir: string, signal: AbortSignal): Promise<ModelSource> {
  const blobs: LocalFile[] = await Promise.all(
    m.files.map(async (f) => {
      const url = new URL(`${dir}/${f.path}`, document.baseURI);
      const res = await fetch(url, { signal });
      if (!res.ok) throw Object.assign(new Error(`${url}: HTTP ${res.status}`), { name: 'ModelNotFoundError', code: 'MODEL_NOT_FOUND' });
      return { path: f.path, blob: await res.blob() };
    }),
  );
  return { blobs, name: m.kind === 'test' ? `${m.name} (random weights)` : m.name };
}

/**
 * The composer (#composer, its text box `prompt`): Enter sends (Shift+Enter: a new line), handing the trimmed
 * text to `ask` where `canSend` allows, and empties the box.
 */
export function setupComposer(prompt: HTMLTextAreaElement, canSend: () => boolean, ask: (text: string) => void): void {
  const form = $<HTMLFormElement>('composer');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = prompt.value.trim();
    if (!text || !canSend()) return;
    prompt.value = '';
    ask(text);
  });
  prompt.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
}

/**
 * The drawer of narrow screens (#drawer-toggle, #drawer-close, #scrim): its toggle opens and closes it, the
 * close button, the scrim and Escape close it. `open(focus)` scrolls `focus` into view.
 */
export function setupDrawer(): { open(focus?: HTMLElement): void; close(): void } {
  const toggle = $<HTMLButtonElement>('drawer-toggle');
  const isOpen = () => document.body.classList.contains('drawer-open');
  const open = (focus?: HTMLElement) => {
    document.body.classList.add('drawer-open');
    toggle.setAttribute('aria-expanded', 'true');
    $('scrim').hidden = false;
    focus?.scrollIntoView({ block: 'start' });
    $('drawer-close').focus();
  };
  const close = () => {
    if (!isOpen()) return;
    document.body.classList.remove('drawer-open');
    toggle.setAttribute('aria-expanded', 'false');
    $('scrim').hidden = true;
  };
  toggle.addEventListener('click', () => (isOpen() ? close() : open()));
  $('drawer-close').addEventListener('click', () => (close(), toggle.focus()));
  $('scrim').addEventListener('click', close);
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && isOpen()) (close(), toggle.focus());
  });
  return { open, close };
}

/** The WebGPU adapter, named in #gpu-status; without one, undefined, the status saying so and the error shown. */
export async function requestAdapter(): Promise<GPUAdapter | undefined> {
  const status = $('gpu-status');
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  const adapter = await gpu?.requestAdapter().catch(() => null);
  if (!adapter) {
    status.textContent = 'WebGPU is not available in this browser.';
    status.classList.add('bad');
    showError({ name: 'WebGPUUnavailableError', code: 'WEBGPU_UNAVAILABLE', message: gpu ? 'no WebGPU adapter was found' : 'navigator.gpu is missing' });
    return undefined;
  }
  const a = adapter.info;
  status.textContent = `WebGPU: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'adapter ready'}`;
  return adapter;
}

/**
 * #offline-status kept up to date (offline, or "Works offline" once cached), and the service worker
 * registered (production builds only: the dev server has none; workbox-window rather than the plugin's virtual
 * module, so that any vite config, the repository's for the test pages among them, resolves the pages).
 * Resolves true once the page is cached for offline use, false where it will not be.
 */
export function watchOffline(): Promise<boolean> {
  const status = $('offline-status');
  const showOnline = () => {
    status.textContent = navigator.onLine ? (status.classList.contains('ready') ? 'Works offline' : '') : 'Offline';
    status.classList.toggle('offline', !navigator.onLine);
  };
  window.addEventListener('online', showOnline);
  window.addEventListener('offline', showOnline);
  showOnline();
  const ready = new Promise<boolean>((resolve) => {
    if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return resolve(false);
    const wb = new Workbox(new URL('sw.js', document.baseURI).href);
    wb.addEventListener('activated', () => resolve(true));
    wb.addEventListener('controlling', () => resolve(true));
    wb.register().then(
      (reg) => {
        if (reg?.active && navigator.serviceWorker.controller) resolve(true);
      },
      () => resolve(false),
    );
  });
  void ready.then((cached) => {
    if (!cached) return;
    status.classList.add('ready');
    status.title = 'The page and the bundled model are cached: they load with the network off.';
    status.textContent = navigator.onLine ? 'Works offline' : 'Offline';
  });
  return ready;
}
