// Where the model comes from: the bundled model (served with the page, works offline), a real checkpoint
// of the catalog or any Hugging Face repo id (downloaded into IndexedDB once, resumable, then offline), a
// URL, or files on disk (a safetensors folder, a GGUF file). Also the downloaded models and the storage.
import {
  deleteCachedModel,
  listCachedModels,
  pickedFolder,
  requestPersistentStorage,
  storageEstimate,
  type CachedModel,
  type LocalFile,
} from '../../src/index.js';
import type { BundleManifest } from './bundledModel.js';
import { CATALOG, checkFit, footprint, type CatalogModel } from './catalog.js';
import { partialDownloads, type PartialDownload } from './downloads.js';
import { formatBytes } from './format.js';
import type { WeightDType } from './settings.js';

export type ModelChoice =
  | { readonly kind: 'bundled'; readonly manifest: BundleManifest }
  | { readonly kind: 'repo'; readonly repo: string; /** The Hub or a mirror in its layout. */ readonly hubUrl?: string; readonly title?: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'folder'; readonly name: string; readonly files: readonly LocalFile[] };

export interface ModelPicker {
  /** Re-reads the downloaded models, the interrupted downloads and the storage estimate. */
  refreshCache(): Promise<void>;
  setBusy(busy: boolean): void;
  /** The adapter's limits (the catalog is checked against them), once WebGPU answered. */
  setLimits(limits: GPUSupportedLimits | undefined): void;
  setDType(dtype: WeightDType): void;
  /** The bundled model's manifest (undefined until fetched, or when the build has none). */
  bundled(): Promise<BundleManifest | undefined>;
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
const LAST_REPO = 'weblm-chat-last-repo';
const HUB = 'weblm-chat-hub-url';
const DEFAULT_HUB = 'https://huggingface.co';

function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, unknown> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function labelled(text: string, input: HTMLInputElement | HTMLSelectElement, hint?: string): HTMLElement {
  return h(
    'div',
    { className: 'field' },
    h('label', { htmlFor: input.id, textContent: text }),
    input,
    ...(hint ? [h('p', { className: 'muted small', textContent: hint })] : []),
  );
}

function badge(text: string, kind: 'test' | 'real' | 'offline' | 'large'): HTMLElement {
  return h('span', { className: `badge ${kind}`, textContent: text });
}

/** "1.78B", "362M" */
export function formatParams(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(n >= 1e10 ? 1 : 2)}B` : `${Math.round(n / 1e6)}M`;
}

/** The bundled model's manifest, fetched from the page's own folder (the service worker serves it offline). */
async function fetchBundle(): Promise<BundleManifest | undefined> {
  try {
    const res = await fetch(new URL('model/bundle.json', document.baseURI));
    return res.ok ? ((await res.json()) as BundleManifest) : undefined;
  } catch {
    return undefined;
  }
}

export function createModelPicker(root: HTMLElement, cachePanel: HTMLElement, onChoose: (c: ModelChoice) => void, initialDType: WeightDType): ModelPicker {
  const buttons: (HTMLButtonElement | HTMLInputElement)[] = [];
  const button = (text: string, props: Record<string, unknown> = {}) => {
    const b = h('button', { type: 'button', textContent: text, ...props });
    buttons.push(b);
    return b;
  };
  let limits: GPUSupportedLimits | undefined;
  let limitsKnown = false;
  let dtype = initialDType;
  let cached: CachedModel[] = [];
  let storageFree: number | undefined;
  let busy = false;

  // (a) the bundled model
  const bundledBox = h(
    'div',
    { className: 'model-card bundled', id: 'bundled-model' },
    h('p', { className: 'muted small', textContent: 'Looking for the bundled model…' }),
  );
  const bundle = fetchBundle();
  void bundle.then((m) => {
    if (!m) return void bundledBox.replaceChildren(h('p', { className: 'muted small', textContent: 'This build has no bundled model.' }));
    const bytes = m.files.reduce((a, f) => a + f.size, 0);
    const go = button('Load', { id: 'load-bundled', className: 'small-button' });
    go.setAttribute('aria-label', `Load the bundled model ${m.name}`);
    go.addEventListener('click', () => onChoose({ kind: 'bundled', manifest: m }));
    bundledBox.replaceChildren(
      h(
        'div',
        { className: 'card-head' },
        h('strong', { textContent: m.name }),
        m.kind === 'test' ? badge('Test model · random weights', 'test') : badge('Trained here · real weights', 'real'),
        badge('Works offline', 'offline'),
      ),
      h('p', { className: 'small', textContent: m.description }),
      h(
        'div',
        { className: 'card-foot' },
        h('span', { className: 'muted small', textContent: `${m.modelType} · ${formatBytes(bytes)}, ships with this page` }),
        go,
      ),
    );
    go.disabled = busy;
  });

  // (b) downloads a reload interrupted
  const resumeBox = h('div', { className: 'resume', id: 'resume-downloads', hidden: true });

  // (c) the catalog of real checkpoints
  const catalogList = h('ul', { className: 'catalog', id: 'catalog' });
  const catalogBox = h(
    'div',
    { className: 'source' },
    h('h3', { textContent: 'Real models' }),
    h('p', {
      className: 'muted small',
      id: 'catalog-hint',
      textContent: 'Downloaded once from Hugging Face into this browser, then loaded offline. Sizes at the dtype chosen in Settings.',
    }),
    catalogList,
  );

  function renderCatalog(): void {
    const cachedRepos = new Set(cached.map((c) => c.repo));
    catalogList.replaceChildren(...CATALOG.map((m) => catalogItem(m, cachedRepos.has(m.repo))));
    for (const b of catalogList.querySelectorAll('button')) b.disabled = busy || b.dataset.blocked === 'true';
  }

  function catalogItem(m: CatalogModel, isCached: boolean): HTMLElement {
    const f = footprint(m, dtype);
    const fit = checkFit(
      f,
      limitsKnown ? limits : ({ maxBufferSize: Infinity, maxStorageBufferBindingSize: Infinity } as GPUSupportedLimits),
      isCached ? undefined : storageFree,
      formatBytes,
    );
    const dtypeName = dtype === 'auto' ? m.storedAs : dtype;
    const params =
      f.params.total === f.params.active ? formatParams(f.params.total) : `${formatParams(f.params.total)} (${formatParams(f.params.active)} active)`;
    const go = button(isCached ? 'Load' : 'Download & load', { className: 'small-button' });
    go.dataset.repo = m.repo;
    go.setAttribute('aria-label', `${isCached ? 'Load' : 'Download & load'} ${m.title}`);
    if (!fit.ok) go.dataset.blocked = 'true';
    go.addEventListener('click', () => onChoose({ kind: 'repo', repo: m.repo, title: m.title }));
    const li = h(
      'li',
      { className: 'model-card' },
      h(
        'div',
        { className: 'card-head' },
        h('strong', { textContent: m.title }),
        badge('Real weights', 'real'),
        ...(m.large ? [badge('Large GPU', 'large')] : []),
        ...(isCached ? [badge('Downloaded', 'offline')] : []),
      ),
      h('div', { className: 'muted small repo', textContent: m.repo }),
      h('p', { className: 'small', textContent: m.note }),
      h(
        'dl',
        { className: 'sizes small' },
        h('dt', { textContent: 'Parameters' }),
        h('dd', { textContent: params }),
        h('dt', { textContent: 'Download' }),
        h('dd', { textContent: `${formatBytes(f.downloadBytes)} (${m.storedAs})` }),
        h('dt', { textContent: `GPU at ${dtypeName}` }),
        h('dd', {
          textContent: `${formatBytes(f.gpuBytes)}`,
          title: `weights ${formatBytes(f.weightBytes)} + KV cache ${formatBytes(f.kvCacheBytes)} for ${f.context} tokens`,
        }),
      ),
      ...fit.problems.map((p) => h('p', { className: 'fit bad small', textContent: p })),
      ...fit.warnings.map((p) => h('p', { className: 'fit warn small', textContent: p })),
      h('div', { className: 'card-foot' }, go),
    );
    li.dataset.repo = m.repo;
    return li;
  }

  // (d) any repo id, and the Hub server
  const repo = h('input', {
    id: 'src-repo',
    type: 'text',
    placeholder: 'owner/name',
    spellcheck: false,
    value: localStorage.getItem(LAST_REPO) ?? '',
    autocomplete: 'off',
  });
  const repoGo = button('Download & load');
  repoGo.type = 'submit';
  const hub = h('input', { id: 'src-hub', type: 'url', value: localStorage.getItem(HUB) ?? DEFAULT_HUB, autocomplete: 'off' });
  const repoForm = h(
    'form',
    { className: 'source' },
    labelled('Hugging Face repo', repo, 'Any safetensors repo of a supported architecture.'),
    labelled('Hub server', hub, 'huggingface.co, or a mirror with the same layout.'),
    repoGo,
  );
  repoForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = repo.value.trim();
    if (!REPO_ID.test(id)) return (void repo.setCustomValidity('owner/name, e.g. Qwen/Qwen3-0.6B'), repo.reportValidity());
    repo.setCustomValidity('');
    localStorage.setItem(LAST_REPO, id);
    const hubUrl = hub.value.trim() || DEFAULT_HUB;
    localStorage.setItem(HUB, hubUrl);
    onChoose({ kind: 'repo', repo: id, hubUrl });
  });
  repo.addEventListener('input', () => repo.setCustomValidity(''));

  // (e) a URL of a folder (Hub layout `.../resolve/main/` or a plain folder with config.json)
  const url = h('input', { id: 'src-url', type: 'url', placeholder: 'https://host/models/my-model/', autocomplete: 'off' });
  const urlGo = button('Load');
  urlGo.type = 'submit';
  const urlForm = h(
    'form',
    { className: 'source' },
    labelled('Model URL', url, 'A folder with config.json, *.safetensors and tokenizer.json, or a .gguf file; the server must allow CORS and Range.'),
    urlGo,
  );
  urlForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!url.value.trim()) return;
    onChoose({ kind: 'url', url: url.value.trim() });
  });
  const more = h('details', { className: 'more-sources' }, h('summary', { textContent: 'Another repo id, or a URL' }), repoForm, urlForm);

  // (f) files on disk: a safetensors folder, or one GGUF file
  const folder = h('input', { id: 'src-folder', type: 'file', multiple: true });
  folder.setAttribute('webkitdirectory', '');
  folder.addEventListener('change', () => {
    const files = [...(folder.files ?? [])];
    if (files.length === 0) return;
    const name = (files[0]!.webkitRelativePath || files[0]!.name).split('/')[0]!;
    onChoose({ kind: 'folder', name, files: pickedFolder(files) });
    folder.value = '';
  });
  const gguf = h('input', { id: 'src-gguf', type: 'file', accept: '.gguf' });
  gguf.addEventListener('change', () => {
    const file = gguf.files?.[0];
    if (!file) return;
    onChoose({ kind: 'folder', name: file.name, files: pickedFolder([file]) });
    gguf.value = '';
  });
  buttons.push(folder, gguf);
  const localBox = h(
    'div',
    { className: 'source' },
    h('h3', { textContent: 'From this computer' }),
    labelled('Safetensors folder', folder, 'A Hugging Face folder (config.json, *.safetensors, tokenizer.json), read in place.'),
    labelled('GGUF file', gguf, 'One .gguf file (F32/F16/BF16/Q8_0/Q4_0/Q4_K/Q6_K), read in place.'),
  );

  root.append(bundledBox, resumeBox, catalogBox, more, localBox);

  // The downloaded models, the storage estimate and persistent storage.
  const cacheList = h('ul', { id: 'cached-models', className: 'cached' });
  const estimate = h('p', { id: 'storage-estimate', className: 'muted small' });
  const persist = button('Keep downloads (persistent storage)', { id: 'persist', className: 'small-button secondary' });
  const persistNote = h('p', { className: 'muted small', id: 'persist-status' });
  persist.addEventListener('click', async () => {
    const granted = await requestPersistentStorage().catch(() => false);
    persistNote.textContent = granted
      ? 'Persistent: the browser will not evict these downloads to free space.'
      : 'Not granted: the browser may evict downloads when space runs low (installing the page as an app or bookmarking it helps).';
  });
  cachePanel.append(cacheList, estimate, persist, persistNote);
  void navigator.storage?.persisted?.().then((p) => {
    if (p) persistNote.textContent = 'Persistent: the browser will not evict these downloads to free space.';
  });

  function renderResume(list: PartialDownload[]): void {
    resumeBox.hidden = list.length === 0;
    resumeBox.replaceChildren(
      h('h3', { textContent: 'Interrupted downloads' }),
      ...list.map((p) => {
        const go = button('Resume', { className: 'small-button' });
        go.setAttribute('aria-label', `Resume downloading ${p.repo}`);
        go.addEventListener('click', () => onChoose({ kind: 'repo', repo: p.repo, hubUrl: p.baseUrl }));
        const drop = button('Discard', { className: 'small-button secondary' });
        drop.setAttribute('aria-label', `Discard the partial download of ${p.repo}`);
        drop.addEventListener('click', async () => {
          await deleteCachedModel(p.repo, p.revision);
          await refreshCache();
        });
        const pct = p.total ? Math.floor((100 * p.stored) / p.total) : 0;
        return h(
          'div',
          { className: 'resume-item' },
          h('div', { className: 'small', textContent: `${p.repo}: ${formatBytes(p.stored)} of ${formatBytes(p.total)} stored (${pct}%)` }),
          h('progress', { max: 1, value: p.total ? p.stored / p.total : 0 }),
          h('div', { className: 'card-foot' }, drop, go),
        );
      }),
    );
  }

  async function refreshCache(): Promise<void> {
    cached = await listCachedModels().catch(() => []);
    cacheList.replaceChildren(
      ...(cached.length
        ? cached.map((m) => {
            const load = button('Load', { className: 'small-button', title: `Load ${m.repo} (offline)` });
            load.setAttribute('aria-label', `Load ${m.repo}`);
            load.addEventListener('click', () => onChoose({ kind: 'repo', repo: m.repo }));
            const del = button('Delete', { className: 'small-button danger', title: `Delete ${m.repo} from this browser` });
            del.setAttribute('aria-label', `Delete ${m.repo}`);
            del.addEventListener('click', async () => {
              if (!confirm(`Delete ${m.repo} (${formatBytes(m.bytes)}) from this browser?`)) return;
              await deleteCachedModel(m.repo, m.revision);
              await refreshCache();
            });
            return h(
              'li',
              {},
              h('span', { className: 'cached-name', textContent: m.repo, title: m.id }),
              h('span', { className: 'muted small', textContent: formatBytes(m.bytes) }),
              load,
              del,
            );
          })
        : [h('li', { className: 'muted small', textContent: 'None yet.' })]),
    );
    renderResume(await partialDownloads().catch(() => []));
    const est = await storageEstimate().catch(() => undefined);
    storageFree = est?.available;
    estimate.textContent = est
      ? `Storage: ${formatBytes(est.usage)} used, ${formatBytes(est.available)} free (of ${formatBytes(est.quota)} this site may use).`
      : '';
    renderCatalog();
    setBusy(busy);
  }

  function setBusy(b: boolean): void {
    busy = b;
    for (const x of buttons) if (x.isConnected) x.disabled = b || x.dataset.blocked === 'true';
  }

  renderCatalog();
  return {
    refreshCache,
    setBusy,
    setLimits(l) {
      limits = l;
      limitsKnown = true;
      renderCatalog();
      setBusy(busy);
    },
    setDType(d) {
      dtype = d;
      renderCatalog();
      setBusy(busy);
    },
    bundled: () => bundle,
  };
}
