// Sampling settings, the system prompt and the load dtype, kept in localStorage between visits.
import type { LoadOptions } from '../../src/index.js';

export type WeightDType = NonNullable<LoadOptions['dtype']>;

export interface ChatSettings {
  temperature: number;
  topP: number;
  maxTokens: number;
  systemPrompt: string;
  /** Passed to the chat template as enable_thinking (Qwen3 honours it; other templates ignore it). */
  thinking: boolean;
  /** The dtype weights are loaded in (applies to the next load). */
  dtype: WeightDType;
  /** Replies constrained to a JSON object (response_format: {type: 'json_object'}), shown as a code block. */
  json: boolean;
}

const DEFAULTS: ChatSettings = { temperature: 0.6, topP: 0.95, maxTokens: 1024, systemPrompt: '', thinking: true, dtype: 'auto', json: false };
const KEY = 'weblm-chat-settings';

function load(): ChatSettings {
  try {
    return { ...DEFAULTS, ...(JSON.parse(localStorage.getItem(KEY) ?? '{}') as Partial<ChatSettings>) };
  } catch {
    return { ...DEFAULTS };
  }
}

function field(label: string, input: HTMLElement, id: string, output?: HTMLOutputElement): HTMLElement {
  const row = document.createElement('div');
  row.className = 'field';
  const l = document.createElement('label');
  l.htmlFor = id;
  l.textContent = label;
  if (output) l.append(' ', output);
  row.append(l, input);
  return row;
}

function slider(id: string, min: number, max: number, step: number, value: number, onChange: (v: number) => void) {
  const input = document.createElement('input');
  Object.assign(input, { type: 'range', id, min: String(min), max: String(max), step: String(step), value: String(value) });
  const out = document.createElement('output');
  out.htmlFor.add(id);
  out.value = String(value);
  input.addEventListener('input', () => {
    out.value = input.value;
    onChange(Number(input.value));
  });
  return { input, out };
}

function checkbox(id: string, label: string, checked: boolean, onChange: (v: boolean) => void): HTMLElement {
  const input = document.createElement('input');
  Object.assign(input, { type: 'checkbox', id, checked });
  input.addEventListener('change', () => onChange(input.checked));
  const row = document.createElement('div');
  row.className = 'field inline';
  const l = document.createElement('label');
  l.htmlFor = id;
  l.textContent = label;
  row.append(input, l);
  return row;
}

/** Renders the settings form into `root`; `current()` returns the values at the time of the call. */
export function createSettings(root: HTMLElement): { current(): ChatSettings; onChange(cb: (s: ChatSettings) => void): void } {
  const s = load();
  const listeners: ((s: ChatSettings) => void)[] = [];
  const save = () => {
    localStorage.setItem(KEY, JSON.stringify(s));
    for (const cb of listeners) cb({ ...s });
  };

  const temp = slider('set-temperature', 0, 2, 0.05, s.temperature, (v) => ((s.temperature = v), save()));
  const topP = slider('set-top-p', 0.05, 1, 0.05, s.topP, (v) => ((s.topP = v), save()));

  const maxTokens = document.createElement('input');
  Object.assign(maxTokens, { type: 'number', id: 'set-max-tokens', min: '1', max: '32768', step: '1', value: String(s.maxTokens) });
  maxTokens.addEventListener('change', () => {
    const v = Math.max(1, Math.floor(Number(maxTokens.value) || DEFAULTS.maxTokens));
    maxTokens.value = String(v);
    s.maxTokens = v;
    save();
  });

  const thinkRow = checkbox('set-thinking', 'Let the model think (enable_thinking)', s.thinking, (v) => ((s.thinking = v), save()));
  const jsonRow = checkbox('set-json', 'Reply in JSON (response_format: json_object)', s.json, (v) => ((s.json = v), save()));

  const system = document.createElement('textarea');
  Object.assign(system, { id: 'set-system', rows: 3, placeholder: 'You are a helpful assistant.', value: s.systemPrompt });
  system.addEventListener('input', () => ((s.systemPrompt = system.value), save()));

  const dtype = document.createElement('select');
  dtype.id = 'set-dtype';
  const dtypes: [WeightDType, string][] = [
    ['auto', 'as stored'],
    ['f16', 'f16'],
    ['q8_0', 'q8_0 (8-bit)'],
    ['q4_0', 'q4_0 (4-bit, smallest)'],
    ['f32', 'f32'],
  ];
  for (const [value, text] of dtypes) dtype.append(new Option(text, value, false, value === s.dtype));
  dtype.addEventListener('change', () => ((s.dtype = dtype.value as WeightDType), save()));

  root.append(
    field('Load weights as (next load)', dtype, dtype.id),
    field('Temperature', temp.input, temp.input.id, temp.out),
    field('Top p', topP.input, topP.input.id, topP.out),
    field('Max new tokens', maxTokens, maxTokens.id),
    thinkRow,
    jsonRow,
    field('System prompt', system, system.id),
  );
  return { current: () => ({ ...s }), onChange: (cb) => void listeners.push(cb) };
}
