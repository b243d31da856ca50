// weblm chat demo: an engine in a Web Worker (createEngine); a model bundled with the page, a real
// checkpoint from the Hub (downloaded once, resumable), a URL or files on disk; a streamed multi-turn chat
// rendered as Markdown, with reasoning, stats, Stop, settings, and conversations kept in IndexedDB. A
// service worker (vite-plugin-pwa) makes the page and the bundled model work offline after one visit.
import {
  CacheMismatchError,
  createEngine,
  downloadModel,
  GpuOutOfMemoryError,
  isModelCached,
  storageEstimate,
  StorageQuotaError,
  type ChatMessage,
  type EngineInfo,
  type GenerationStats,
  type ModelSource,
} from '../../src/index.js';
import type { BundleManifest } from './bundledModel.js';
import { resolveUrl } from '../../src/storage/index.js';
import { checkFit, footprint, modelFromConfig } from './catalog.js';
import { ConversationStore, titleFrom, type Conversation } from './conversations.js';
import { SavedCacheStore } from './savedCache.js';
import { progressLine, RateMeter } from './downloads.js';
import { formatBytes, isAbort } from './format.js';
import { createModelPicker, type ModelChoice } from './modelPicker.js';
import { createSettings } from './settings.js';
import { Transcript } from './transcript.js';
import { $, bundledSource, requestAdapter, setupComposer, setupDrawer, showError, showProgress, uploadProgress, watchOffline } from '../shared/page.js';

const engine = createEngine();
const transcript = new Transcript($('transcript'));
const settings = createSettings($('settings'));
const picker = createModelPicker($('model-picker'), $('cache-panel'), (c) => void loadModel(c), settings.current().dtype);
settings.onChange((s) => picker.setDType(s.dtype));
const conversations = new ConversationStore();
const savedCaches = new SavedCacheStore();
const prompt = $<HTMLTextAreaElement>('prompt');
const send = $<HTMLButtonElement>('send');
const stop = $<HTMLButtonElement>('stop');
const drawer = setupDrawer();

let info: EngineInfo | undefined;
let conversation: Conversation = conversations.create();
let loading: AbortController | undefined;
let replying: AbortController | undefined;
/** The bundled model's manifest, once fetched. */
let bundle: BundleManifest | undefined;
/** The adapter's limits, once WebGPU answered: a model is checked against them before it is downloaded. */
let adapterLimits: GPUSupportedLimits | undefined;
/** No WebGPU adapter: nothing can be loaded, the load buttons stay disabled. */
let noWebGPU = false;

// ---------------------------------------------------------------- errors, controls, progress

function updateControls(): void {
  const busy = !!loading || !!replying;
  prompt.disabled = !info || !!loading;
  prompt.placeholder = info ? 'Message (Enter to send, Shift+Enter for a new line)' : 'Load a model to chat';
  send.disabled = !info || busy;
  send.hidden = !!replying;
  stop.hidden = !replying;
  picker.setBusy(busy || noWebGPU);
  for (const b of document.querySelectorAll<HTMLButtonElement>('.empty-actions button')) b.disabled = busy || (noWebGPU && b.id === 'empty-load-bundled');
  // No model, and a conversation on screen (after a reload): load the bundled one from here, drawer closed.
  const status = $('composer-status');
  if (!info && !loading && !noWebGPU && bundle && conversation.messages.length > 0 && !status.textContent) {
    const m = bundle;
    const go = document.createElement('button');
    Object.assign(go, { type: 'button', id: 'composer-load-bundled', className: 'link small', textContent: `Load ${m.name}` });
    go.addEventListener('click', () => void loadModel({ kind: 'bundled', manifest: m }));
    status.replaceChildren(go);
  } else if (info || conversation.messages.length === 0) status.querySelector('#composer-load-bundled')?.remove();
}

void picker.bundled().then((m) => {
  bundle = m;
  updateControls();
});

function progress(phase: string, line?: string, fraction?: number): void {
  if (loading) showProgress(phase, line, fraction); // else a progress event that crossed the worker after the load ended
}

// ---------------------------------------------------------------- loading a model

async function loadModel(choice: ModelChoice): Promise<void> {
  if (loading || replying) return;
  showError(undefined);
  loading = new AbortController();
  const { signal } = loading;
  updateControls();
  $('model-info').textContent = 'Loading…';
  try {
    info = undefined;
    let source: ModelSource;
    if (choice.kind === 'repo') {
      if (!(await isModelCached(choice.repo).catch(() => false))) await checkBeforeDownload(choice.repo, choice.hubUrl, signal);
      progress(`Downloading ${choice.repo}`);
      const meter = new RateMeter();
      await downloadModel(choice.repo, {
        baseUrl: choice.hubUrl,
        signal,
        onProgress: (p) => progress(`Downloading ${choice.title ?? choice.repo}`, progressLine(p.bytes, p.total, meter.add(p.bytes)), p.fraction),
      });
      source = choice.repo; // cached now: the worker reads it from IndexedDB
      void picker.refreshCache();
    } else if (choice.kind === 'url') {
      source = { url: choice.url };
    } else if (choice.kind === 'folder') {
      source = { blobs: choice.files, name: choice.name };
    } else {
      progress(`Reading ${choice.manifest.name}`);
      source = await bundledSource(choice.manifest, 'model', signal);
    }
    progress('Preparing');
    info = await engine.load(source, {
      dtype: settings.current().dtype,
      signal,
      onProgress: uploadProgress(progress),
    });
    const test = choice.kind === 'bundled' && choice.manifest.kind === 'test';
    $('model-info').textContent =
      `${info.model} — ${info.modelType}, ${info.dtype}, context ${info.contextLength} tokens, ${formatBytes(info.memoryBytes)} of GPU memory` +
      (!info.hasTokenizer ? ' — no tokenizer.json: chat needs one' : info.hasChatTemplate ? '' : ' — no chat template: chat needs one');
    showCurrentModel(choice.kind === 'bundled' ? choice.manifest.name : info.model, choice.kind === 'bundled' ? choice.manifest.kind : undefined);
    if (conversation.messages.length === 0) showEmpty();
    else {
      transcript.addNote(
        test ? `${info.model} is loaded. Its weights are random: expect gibberish.` : `${info.model} is loaded: the conversation goes on with it.`,
      );
      await restoreCache(conversation);
    }
    if (choice.kind === 'repo') await picker.refreshCache();
    drawer.close();
  } catch (e) {
    info = undefined;
    $('model-info').textContent = isAbort(e) ? 'Loading cancelled.' : 'No model loaded.';
    showCurrentModel(undefined, undefined);
    if (!isAbort(e)) showError(e);
    await picker.refreshCache();
  } finally {
    loading = undefined;
    $('load-progress').hidden = true;
    $('composer-status').textContent = '';
    updateControls();
    if (info) prompt.focus(); // enabled only now: a disabled box takes no focus
  }
}

/** The model in the top bar, with a "test model" badge that stays visible when the name is cut short. */
function showCurrentModel(name: string | undefined, bundled: BundleManifest['kind'] | undefined): void {
  const el = $('current-model');
  const n = document.createElement('span');
  n.className = 'name';
  n.textContent = name ?? 'No model loaded';
  el.replaceChildren(n);
  if (bundled) {
    const b = document.createElement('span');
    b.className = `badge ${bundled === 'test' ? 'test' : 'real'}`;
    b.textContent = bundled === 'test' ? 'test model' : 'trained here';
    b.title = bundled === 'test' ? 'Random weights: its replies are gibberish.' : 'A tiny model trained for this demo: it writes English, but knows little.';
    el.append(b);
  }
}

/**
 * Reads the repo's config.json (a few KB) and checks the model at the chosen dtype against this GPU's
 * buffer limit and the free storage before any weight is downloaded; throws the typed error that says
 * what does not fit. A config that cannot be read here is left to the download to report.
 */
async function checkBeforeDownload(repo: string, hubUrl: string | undefined, signal: AbortSignal): Promise<void> {
  progress(`Checking ${repo}`);
  let config: unknown;
  try {
    const res = await fetch(resolveUrl(repo, 'config.json', { baseUrl: hubUrl }), { signal });
    if (!res.ok) return;
    config = await res.json();
  } catch {
    return;
  }
  const model = modelFromConfig(repo, config as Parameters<typeof modelFromConfig>[1]);
  if (!model) return;
  const dtype = settings.current().dtype;
  const f = footprint(model, dtype);
  const est = await storageEstimate().catch(() => undefined);
  const fit = checkFit(
    f,
    adapterLimits ?? ({ maxBufferSize: Infinity, maxStorageBufferBindingSize: Infinity } as GPUSupportedLimits),
    est?.available,
    formatBytes,
  );
  if (fit.ok) return;
  const what = `${repo} at ${dtype === 'auto' ? model.storedAs : dtype} (about ${formatBytes(f.downloadBytes)} to download, ${formatBytes(f.gpuBytes)} of GPU memory)`;
  const message = `${what} does not fit: ${fit.problems.join(' ')} Nothing was downloaded.`;
  if (est && f.downloadBytes > est.available && !fit.problems.some((p) => /maxBufferSize/.test(p)))
    throw new StorageQuotaError(message, f.downloadBytes, est.available);
  throw new GpuOutOfMemoryError(message);
}

// ---------------------------------------------------------------- the saved KV cache

/**
 * Saves the engine's KV cache as the cache of `c` (right after its reply, before another generation), unless
 * it is too large to keep: then it is not even read back from the GPU.
 */
function saveCache(c: Conversation): Promise<void> {
  const model = info?.model ?? '';
  const save = async () => {
    const held = (await engine.info())?.cachedTokens ?? 0;
    if (!savedCaches.fits(model, held)) return savedCaches.forget(c.id);
    await savedCaches.save(c.id, await engine.exportCache(), model);
  };
  return save().catch(() => undefined); // a cache that cannot be saved costs the next turn a longer prefill, nothing else
}

/** Gives the engine the saved cache of `c` when it was made with the loaded model, and says so. */
async function restoreCache(c: Conversation): Promise<void> {
  const saved = await savedCaches.load(c.id).catch(() => undefined);
  if (!saved || !info) return;
  try {
    await engine.importCache(saved.snapshot);
    transcript.addNote(
      `The saved KV cache of this conversation is back on the GPU (${saved.snapshot.tokens.length} tokens, ${formatBytes(saved.bytes)}): the next reply does not read the history again.`,
    );
  } catch (e) {
    if (e instanceof CacheMismatchError) await savedCaches.forget(c.id).catch(() => undefined); // made with another model
  }
}

// ---------------------------------------------------------------- conversations

/** What an empty conversation shows: how to start (the bundled model, one click; or a real one). */
function showEmpty(): void {
  const box = document.createElement('div');
  box.className = 'empty';
  if (info) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = info.model.includes('random weights')
      ? `${info.model} is loaded. Its weights are random and its tokenizer is one token per byte: expect gibberish, but every part of the chat works.`
      : bundle && info.model === bundle.name
        ? `${info.model} is loaded. ${bundle.description.replace(/ \(see [^)]*\)/, '')} Try: “What does lantern mean?”`
        : `${info.model} is loaded. Ask something.`;
    box.append(p);
    return transcript.clear(box);
  }
  const p = document.createElement('p');
  p.textContent = 'Everything runs on your GPU, in this tab: nothing you type leaves it.';
  const actions = document.createElement('div');
  actions.className = 'empty-actions';
  void picker.bundled().then((m) => {
    if (!m) return;
    const go = document.createElement('button');
    go.type = 'button';
    go.id = 'empty-load-bundled';
    go.textContent = m.kind === 'test' ? `Load the bundled test model (${m.name}, random weights)` : `Load the bundled model (${m.name})`;
    go.addEventListener('click', () => void loadModel({ kind: 'bundled', manifest: m }));
    go.disabled = !!loading || !!replying || noWebGPU;
    actions.prepend(go);
  });
  const more = document.createElement('button');
  Object.assign(more, { type: 'button', className: 'secondary', textContent: 'Choose a real model…' });
  more.addEventListener('click', () => drawer.open($('model-panel')));
  actions.append(more);
  box.append(p, actions);
  transcript.clear(box);
}

function showConversation(c: Conversation): void {
  const switched = c.id !== conversation.id;
  conversation = c;
  conversations.currentId = c.messages.length ? c.id : undefined;
  if (c.messages.length === 0) showEmpty();
  else {
    transcript.clear();
    transcript.show(c.messages);
    addTurnActions();
    if (switched && info && !loading && !replying) void restoreCache(c); // mid-reply, the reply's cache is saved after it: not restored
  }
  updateControls();
  void renderConversations();
}

async function renderConversations(): Promise<void> {
  const list = await conversations.list().catch(() => []);
  const ul = $('conversations');
  if (list.length === 0) {
    const li = document.createElement('li');
    li.className = 'muted small';
    li.textContent = 'Your conversations are kept in this browser.';
    return void ul.replaceChildren(li);
  }
  ul.replaceChildren(
    ...list.map((c) => {
      const li = document.createElement('li');
      if (c.id === conversation.id) li.classList.add('current');
      const open = document.createElement('button');
      Object.assign(open, {
        type: 'button',
        className: 'conv-title link',
        textContent: c.title,
        title: `${c.messages.length} messages${c.model ? ` · ${c.model}` : ''}`,
      });
      if (c.id === conversation.id) open.setAttribute('aria-current', 'true');
      open.addEventListener('click', async () => {
        if (replying) replying.abort();
        const fresh = await conversations.get(c.id);
        if (fresh) showConversation(fresh);
        drawer.close();
      });
      const rename = document.createElement('button');
      Object.assign(rename, { type: 'button', className: 'small-button secondary', textContent: 'Rename' });
      rename.setAttribute('aria-label', `Rename “${c.title}”`);
      rename.addEventListener('click', async () => {
        const title = window.prompt('Name of the conversation', c.title)?.trim();
        if (!title) return;
        const fresh = (await conversations.get(c.id)) ?? c;
        fresh.title = title;
        await conversations.save(fresh);
        if (c.id === conversation.id) conversation.title = title;
        await renderConversations();
      });
      const del = document.createElement('button');
      Object.assign(del, { type: 'button', className: 'small-button danger', textContent: 'Delete' });
      del.setAttribute('aria-label', `Delete “${c.title}”`);
      del.addEventListener('click', async () => {
        if (!confirm(`Delete the conversation “${c.title}”?`)) return;
        if (c.id === conversation.id) {
          replying?.abort();
          await conversations.delete(c.id);
          showConversation(conversations.create(info?.model));
        } else {
          await conversations.delete(c.id);
          await renderConversations();
        }
        await savedCaches.forget(c.id).catch(() => undefined);
      });
      li.append(open, rename, del);
      return li;
    }),
  );
}

function newChat(): void {
  replying?.abort();
  showConversation(conversations.create(info?.model));
  prompt.focus();
}

// ---------------------------------------------------------------- chatting

/** Regenerate under the last reply, Edit on the last question (it goes back to the input box). */
function addTurnActions(): void {
  for (const a of document.querySelectorAll('#transcript .turn-actions')) a.remove();
  const c = conversation;
  const last = c.messages.at(-1);
  if (!last || replying) return;
  const articles = document.querySelectorAll<HTMLElement>('#transcript .message');
  const action = (text: string, label: string, run: () => void) => {
    const b = document.createElement('button');
    Object.assign(b, { type: 'button', className: 'link small', textContent: text });
    b.setAttribute('aria-label', label);
    b.addEventListener('click', run);
    return b;
  };
  const bar = () => Object.assign(document.createElement('div'), { className: 'turn-actions' });
  if (last.role === 'assistant' && c.messages.at(-2)?.role === 'user') {
    const b = bar();
    b.append(action('Regenerate', 'Regenerate the last reply', () => void regenerate()));
    articles[articles.length - 1]?.append(b);
  }
  const lastUser = c.messages.findLastIndex((m) => m.role === 'user');
  if (lastUser >= 0 && lastUser >= c.messages.length - 2) {
    const userArticles = document.querySelectorAll<HTMLElement>('#transcript .message.user');
    const b = bar();
    b.append(action('Edit', 'Edit the last message and send it again', () => editLast(lastUser)));
    userArticles[userArticles.length - 1]?.append(b);
  }
}

/** Drops the last reply and asks again (the same question, the current settings). */
async function regenerate(): Promise<void> {
  if (!info || replying || loading) return;
  const c = conversation;
  if (c.messages.at(-1)?.role === 'assistant') c.messages.pop();
  showConversation(c);
  await ask(undefined);
}

/** Takes the last question (and its reply) out of the conversation and back into the input box. */
function editLast(index: number): void {
  if (replying) return;
  const c = conversation;
  const text = c.messages[index]!.content;
  c.messages.splice(index);
  void conversations.save(c);
  showConversation(c);
  prompt.value = text;
  prompt.focus();
}

/** Sends `text` as the next question, or (undefined) answers the conversation's last question again. */
async function ask(text: string | undefined): Promise<void> {
  if (!info || replying || loading) return;
  showError(undefined);
  const s = settings.current();
  const c = conversation; // switching conversations mid-reply leaves this reply with the one it started in
  if (text !== undefined) {
    if (c.messages.length === 0) c.title = titleFrom(text);
    c.messages.push({ role: 'user', content: text });
  }
  c.model = info.model;
  conversations.currentId = c.id;
  await conversations.save(c);
  void renderConversations();
  for (const a of document.querySelectorAll('#transcript .turn-actions')) a.remove();
  if (text !== undefined) transcript.addUser(text);
  const reply = transcript.addAssistant();
  reply.json = s.json;
  replying = new AbortController();
  updateControls();
  let finish: string | null = null;
  let stats: GenerationStats | undefined;
  try {
    // The history the model sees: answers only (not thinking, as reasoning templates expect), no failed turns.
    const turns: ChatMessage[] = c.messages.filter((m) => !m.error).map((m) => ({ role: m.role, content: m.content }));
    const messages: ChatMessage[] = s.systemPrompt.trim() ? [{ role: 'system', content: s.systemPrompt.trim() }, ...turns] : turns;
    const stream = await engine.chat.completions.create({
      messages,
      stream: true,
      stream_options: { include_usage: true },
      temperature: s.temperature,
      top_p: s.topP,
      max_tokens: s.maxTokens,
      chat_template_kwargs: { enable_thinking: s.thinking },
      ...(s.json ? { response_format: { type: 'json_object' as const } } : {}),
      signal: replying.signal,
    });
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.reasoning_content) reply.addReasoning(choice.delta.reasoning_content);
      if (choice?.delta.content) reply.addContent(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.stats) stats = chunk.stats;
    }
    reply.finish(finish, stats);
  } catch (e) {
    if (isAbort(e)) reply.finish('abort', undefined);
    else reply.fail(e);
    if (!isAbort(e) && text !== undefined) c.messages.pop(); // the question failed: it is not sent again with the next one
  } finally {
    if (!reply.error) c.messages.push(reply.toStored());
    const cacheSaved = reply.error ? undefined : saveCache(c);
    await conversations.save(c).catch(() => undefined);
    replying = undefined;
    updateControls();
    if (c === conversation) addTurnActions();
    prompt.focus();
    await cacheSaved;
  }
}

setupComposer(
  prompt,
  () => !!info && !replying,
  (text) => void ask(text),
);
stop.addEventListener('click', () => replying?.abort());
$('load-cancel').addEventListener('click', () => loading?.abort());
$('new-chat').addEventListener('click', newChat);
$('new-chat-side').addEventListener('click', () => (newChat(), drawer.close()));

// ---------------------------------------------------------------- WebGPU, offline

async function checkWebGPU(): Promise<void> {
  const adapter = await requestAdapter();
  if (!adapter) {
    noWebGPU = true;
    picker.setLimits(undefined);
    updateControls();
    return;
  }
  $('gpu-status').title =
    `maxBufferSize ${formatBytes(adapter.limits.maxBufferSize)}, maxStorageBufferBindingSize ${formatBytes(adapter.limits.maxStorageBufferBindingSize)}`;
  adapterLimits = adapter.limits;
  picker.setLimits(adapter.limits);
}

const offlineReady = watchOffline();

async function start(): Promise<void> {
  void checkWebGPU();
  void picker.refreshCache();
  const id = conversations.currentId;
  const saved = id ? await conversations.get(id).catch(() => undefined) : undefined;
  showConversation(saved ?? conversations.create());
  updateControls();
}

void start();
// For the console and the e2e test.
(window as unknown as { weblmChat: unknown }).weblmChat = { engine, conversations, savedCaches, offlineReady, showConversation };
