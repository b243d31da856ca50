// Where the model comes from: a Hugging Face repo id (downloaded into IndexedDB once, then offline), a URL,
// a local folder, or one of the repository's tiny test models. Also the list of downloaded models.
import { deleteCachedModel, listCachedModels, pickedFolder, storageEstimate, type LocalFile } from '../../src/index.js';
import { listFixtures, type FixtureModel } from './fixtures.js';
import { formatBytes } from './format.js';

export type ModelChoice =
  | { readonly kind: 'repo'; readonly repo: string; /** The Hub or a mirror in its layout. */ readonly hubUrl?: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'folder'; readonly name: string; readonly files: readonly LocalFile[] }
  | { readonly kind: 'fixture'; readonly fixture: FixtureModel };

export interface ModelPicker {
  /** Re-reads the downloaded models and the storage estimate. */
  refreshCache(): Promise<void>;
  setBusy(busy: boolean): void;
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
  return h('div', { className: 'field' }, h('label', { htmlFor: input.id, textContent: text }), input, ...(hint ? [h('p', { className: 'muted small', textContent: hint })] : []));
}

export function createModelPicker(root: HTMLElement, cacheList: HTMLElement, estimate: HTMLElement, onChoose: (c: ModelChoice) => void): ModelPicker {
  const buttons: HTMLButtonElement[] = [];
  const button = (text: string, props: Record<string, unknown> = {}) => {
    const b = h('button', { type: 'button', textContent: text, ...props });
    buttons.push(b);
    return b;
  };

  // (a) Hugging Face repo id
  const repo = h('input', { id: 'src-repo', type: 'text', placeholder: 'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B', autocomplete: 'off', spellcheck: false, value: localStorage.getItem(LAST_REPO) ?? '' });
  const repoGo = button('Download & load');
  const hub = h('input', { id: 'src-hub', type: 'url', value: localStorage.getItem(HUB) ?? DEFAULT_HUB, autocomplete: 'off' });
  const hubBox = h('details', { className: 'small' }, h('summary', { textContent: 'Hub server' }), labelled('Download from', hub, 'huggingface.co, or a mirror with the same layout.'));
  const repoForm = h('form', { className: 'source' }, labelled('Hugging Face repo', repo, 'Downloaded once into this browser; works offline afterwards.'), hubBox, repoGo);
  repoGo.type = 'submit';
  repoForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = repo.value.trim();
    if (!REPO_ID.test(id)) return void repo.setCustomValidity('owner/name, e.g. Qwen/Qwen3-0.6B'), repo.reportValidity();
    repo.setCustomValidity('');
    localStorage.setItem(LAST_REPO, id);
    const hubUrl = hub.value.trim() || DEFAULT_HUB;
    localStorage.setItem(HUB, hubUrl);
    onChoose({ kind: 'repo', repo: id, hubUrl });
  });
  repo.addEventListener('input', () => repo.setCustomValidity(''));

  // (b) URL of a folder (Hub layout `.../resolve/main/` or a plain folder with config.json)
  const url = h('input', { id: 'src-url', type: 'url', placeholder: 'https://host/models/my-model/', autocomplete: 'off' });
  const urlGo = button('Load');
  urlGo.type = 'submit';
  const urlForm = h('form', { className: 'source' }, labelled('Model URL', url, 'A folder with config.json, *.safetensors and tokenizer.json; the server must allow CORS and Range.'), urlGo);
  urlForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!url.value.trim()) return;
    onChoose({ kind: 'url', url: url.value.trim() });
  });

  // (c) a local folder
  const folder = h('input', { id: 'src-folder', type: 'file', multiple: true });
  folder.setAttribute('webkitdirectory', '');
  folder.addEventListener('change', () => {
    const files = [...(folder.files ?? [])];
    if (files.length === 0) return;
    const name = (files[0]!.webkitRelativePath || files[0]!.name).split('/')[0]!;
    onChoose({ kind: 'folder', name, files: pickedFolder(files) });
    folder.value = '';
  });
  buttons.push(folder as unknown as HTMLButtonElement);
  const folderBox = h('div', { className: 'source' }, labelled('Local folder', folder, 'Read from disk in place; nothing is copied.'));

  // (d) the test models, when the dev server serves test/fixtures
  const fixtureBox = h('div', { className: 'source', hidden: true });
  void listFixtures().then((list) => {
    if (list.length === 0) return;
    const select = h('select', { id: 'src-fixture' }, ...list.map((f) => h('option', { value: f.name, textContent: `${f.name} (${f.modelType})` })));
    const go = button('Load test model');
    go.addEventListener('click', () => onChoose({ kind: 'fixture', fixture: list.find((f) => f.name === select.value)! }));
    fixtureBox.append(labelled('Built-in test model', select, 'Tiny random-weight models from the test suite: they load instantly, but their replies are gibberish.'), go);
    fixtureBox.hidden = false;
  });

  root.append(repoForm, urlForm, folderBox, fixtureBox);

  async function refreshCache(): Promise<void> {
    const models = await listCachedModels().catch(() => []);
    cacheList.replaceChildren(
      ...(models.length
        ? models.map((m) => {
            const load = button('Load', { className: 'small-button', title: `Load ${m.repo} (offline)` });
            load.addEventListener('click', () => onChoose({ kind: 'repo', repo: m.repo }));
            const del = button('Delete', { className: 'small-button danger', title: `Delete ${m.repo} from this browser` });
            del.setAttribute('aria-label', `Delete ${m.repo}`);
            del.addEventListener('click', async () => {
              if (!confirm(`Delete ${m.repo} (${formatBytes(m.bytes)}) from this browser?`)) return;
              await deleteCachedModel(m.repo, m.revision);
              await refreshCache();
            });
            return h('li', {}, h('span', { className: 'cached-name', textContent: m.repo, title: m.id }), h('span', { className: 'muted small', textContent: formatBytes(m.bytes) }), load, del);
          })
        : [h('li', { className: 'muted small', textContent: 'None yet.' })]),
    );
    const est = await storageEstimate().catch(() => undefined);
    estimate.textContent = est ? `Storage: ${formatBytes(est.usage)} used of ${formatBytes(est.quota)} available to this site.` : '';
  }

  return {
    refreshCache,
    setBusy(busy) {
      for (const b of buttons) if (b.isConnected) b.disabled = busy;
    },
  };
}
