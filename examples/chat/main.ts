// weblm chat demo: an engine in a Web Worker (createEngine), a model from the Hub, a URL, a folder or the
// test fixtures, and a streamed multi-turn chat with reasoning, stats, Stop and settings.
import { createEngine, downloadModel, type ChatMessage, type EngineInfo, type GenerationStats, type ModelSource } from '../../src/index.js';
import { fixtureFiles } from './fixtures.js';
import { describeError, formatBytes, isAbort } from './format.js';
import { createModelPicker, type ModelChoice } from './modelPicker.js';
import { createSettings } from './settings.js';
import { Transcript } from './transcript.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const engine = createEngine();
const transcript = new Transcript($('transcript'));
const settings = createSettings($('settings'));
const picker = createModelPicker($('model-picker'), $('cached-models'), $('storage-estimate'), (c) => void loadModel(c));
const prompt = $<HTMLTextAreaElement>('prompt');
const send = $<HTMLButtonElement>('send');
const stop = $<HTMLButtonElement>('stop');

let info: EngineInfo | undefined;
let history: ChatMessage[] = [];
let loading: AbortController | undefined;
let replying: AbortController | undefined;

function showError(e: unknown): void {
  const box = $('error');
  if (e === undefined) return void (box.hidden = true);
  const v = describeError(e);
  box.replaceChildren();
  const title = document.createElement('strong');
  title.textContent = v.title;
  const msg = document.createElement('div');
  msg.textContent = v.message;
  box.append(title, msg);
  if (v.hint) {
    const hint = document.createElement('div');
    hint.className = 'hint';
    hint.textContent = v.hint;
    box.append(hint);
  }
  const close = document.createElement('button');
  Object.assign(close, { type: 'button', className: 'link close', textContent: '×', title: 'Dismiss' });
  close.setAttribute('aria-label', 'Dismiss error');
  close.addEventListener('click', () => (box.hidden = true));
  box.append(close);
  box.hidden = false;
}

function updateControls(): void {
  const busy = !!loading || !!replying;
  prompt.disabled = !info || !!loading;
  send.disabled = !info || busy;
  send.hidden = !!replying;
  stop.hidden = !replying;
  picker.setBusy(busy);
}

function progress(phase: string, done?: number, total?: number): void {
  $('load-progress').hidden = false;
  $('load-phase').textContent = phase;
  const bar = $<HTMLProgressElement>('load-bar');
  if (done === undefined || !total) {
    bar.removeAttribute('value');
    $('load-bytes').textContent = '';
  } else {
    bar.value = done / total;
    $('load-bytes').textContent = `${formatBytes(done)} / ${formatBytes(total)} (${Math.floor((100 * done) / total)}%)`;
  }
}

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
      progress(`Downloading ${choice.repo}`);
      await downloadModel(choice.repo, { baseUrl: choice.hubUrl, signal, onProgress: (p) => progress(`Downloading ${p.file}`, p.bytes, p.total) });
      source = choice.repo; // cached now: the worker reads it from IndexedDB
    } else if (choice.kind === 'url') {
      source = { url: choice.url };
    } else if (choice.kind === 'folder') {
      source = { blobs: choice.files, name: choice.name };
    } else {
      progress(`Fetching ${choice.fixture.name}`);
      source = { blobs: await fixtureFiles(choice.fixture, signal), name: `${choice.fixture.name} (random-weight test model)` };
    }
    progress('Preparing');
    info = await engine.load(source, { dtype: settings.current().dtype, signal, onProgress: (p) => progress('Uploading weights to the GPU', p.loaded, p.total) });
    history = [];
    const test = choice.kind === 'fixture';
    transcript.clear(
      test
        ? `${info.model} is loaded. Its weights are random and its tokenizer is one token per byte: expect gibberish, but every part of the chat works.`
        : `${info.model} is loaded. Ask something.`,
    );
    $('model-info').textContent =
      `${info.model} — ${info.modelType}, ${info.dtype}, context ${info.contextLength} tokens, ${formatBytes(info.memoryBytes)} of GPU memory` +
      (!info.hasTokenizer ? ' — no tokenizer.json: chat needs one' : info.hasChatTemplate ? '' : ' — no chat template: chat needs one');
    if (choice.kind === 'repo') await picker.refreshCache();
    prompt.focus();
  } catch (e) {
    info = undefined;
    $('model-info').textContent = isAbort(e) ? 'Loading cancelled.' : 'No model loaded.';
    if (!isAbort(e)) showError(e);
    await picker.refreshCache();
  } finally {
    loading = undefined;
    $('load-progress').hidden = true;
    updateControls();
  }
}

async function ask(text: string): Promise<void> {
  if (!info || replying || loading) return;
  showError(undefined);
  const s = settings.current();
  const turns = history; // "New chat" replaces `history`: this reply belongs to the conversation it started in
  turns.push({ role: 'user', content: text });
  transcript.addUser(text);
  const reply = transcript.addAssistant();
  replying = new AbortController();
  updateControls();
  let finish: string | null = null;
  let stats: GenerationStats | undefined;
  try {
    const messages: ChatMessage[] = s.systemPrompt.trim() ? [{ role: 'system', content: s.systemPrompt.trim() }, ...turns] : [...turns];
    const stream = await engine.chat.completions.create({
      messages,
      stream: true,
      stream_options: { include_usage: true },
      temperature: s.temperature,
      top_p: s.topP,
      max_tokens: s.maxTokens,
      chat_template_kwargs: { enable_thinking: s.thinking },
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
    // The answer joins the history (not the thinking, as reasoning models' templates expect).
    turns.push({ role: 'assistant', content: reply.content });
  } catch (e) {
    turns.pop(); // the turn failed: drop the question so the next one starts clean
    if (isAbort(e)) reply.finish('abort', undefined);
    else reply.fail(e);
  } finally {
    replying = undefined;
    updateControls();
    prompt.focus();
  }
}

$('composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = prompt.value.trim();
  if (!text || !info || replying) return;
  prompt.value = '';
  void ask(text);
});
prompt.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $<HTMLFormElement>('composer').requestSubmit();
  }
});
stop.addEventListener('click', () => replying?.abort());
$('load-cancel').addEventListener('click', () => loading?.abort());
$('new-chat').addEventListener('click', () => {
  replying?.abort();
  history = [];
  transcript.clear(info ? `New chat with ${info.model}.` : 'Load a model, then ask something.');
});

async function checkWebGPU(): Promise<void> {
  const status = $('gpu-status');
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  const adapter = await gpu?.requestAdapter().catch(() => null);
  if (!adapter) {
    status.textContent = 'WebGPU is not available in this browser.';
    status.classList.add('bad');
    showError({ name: 'WebGPUUnavailableError', code: 'WEBGPU_UNAVAILABLE', message: gpu ? 'no WebGPU adapter was found' : 'navigator.gpu is missing' });
    return;
  }
  const a = adapter.info;
  status.textContent = `WebGPU: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'adapter ready'}`;
}

void checkWebGPU();
void picker.refreshCache();
updateControls();
(window as unknown as { weblmChat: unknown }).weblmChat = { engine }; // for the console and the e2e test
