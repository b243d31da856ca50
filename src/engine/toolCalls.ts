import { InvalidArgumentError } from '../errors.js';
import type { Constraint, ToolCallTag } from './grammar.js';
import { checkJsonSchema } from './grammarSchema.js';

/** An OpenAI function tool of a request. */
export interface FunctionTool {
  readonly type: 'function';
  readonly function: {
    readonly name: string;
    readonly description?: string;
    readonly parameters?: Readonly<Record<string, unknown>>;
    readonly strict?: boolean | null;
  };
}

export type ToolChoice = 'none' | 'auto' | 'required' | { readonly type: 'function'; readonly function: { readonly name: string } };

/** A tool call of a reply, as OpenAI's `message.tool_calls` holds it (`arguments` is JSON text). */
export interface ToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

/**
 * How a model family writes a tool call: Qwen2.5 / Qwen3 (Hermes) `<tool_call>{"name", "arguments"}</tool_call>`,
 * DeepSeek-V3 / R1's tool-call tokens around `function<｜tool▁sep｜>NAME` and a ```json block, Llama 3.x a
 * bare `{"name", "parameters"}` object (after `<|python_tag|>` at times).
 */
export type ToolFormat = 'hermes' | 'deepseek' | 'llama3';

const DS = {
  begin: '<｜tool▁calls▁begin｜>',
  end: '<｜tool▁calls▁end｜>',
  callBegin: '<｜tool▁call▁begin｜>',
  callEnd: '<｜tool▁call▁end｜>',
  sep: '<｜tool▁sep｜>',
};
const PYTHON_TAG = '<|python_tag|>';

/** The tool-call syntax a chat template teaches, read from its source; undefined when it shows none. */
export function toolFormatOf(template: string | undefined): ToolFormat | undefined {
  if (!template) return undefined;
  if (template.includes('<tool_call>')) return 'hermes';
  if (template.includes('tool▁calls▁begin')) return 'deepseek';
  if (template.includes(PYTHON_TAG) || (template.includes('ipython') && template.includes('"parameters"'))) return 'llama3';
  return undefined;
}

/** Checks `tools` and `tool_choice`; returns the tools to render (none for tool_choice 'none') and the choice. */
export function checkTools(tools: unknown, choice: unknown): { tools: readonly FunctionTool[] | undefined; choice: ToolChoice } {
  if (tools === undefined || tools === null) {
    if (choice !== undefined && choice !== null && choice !== 'none' && choice !== 'auto') throw new InvalidArgumentError('tool_choice needs tools');
    return { tools: undefined, choice: 'none' };
  }
  if (!Array.isArray(tools)) throw new InvalidArgumentError('tools must be an array');
  if (tools.length === 0) return checkTools(undefined, choice);
  const names = new Set<string>();
  tools.forEach((t: unknown, i) => {
    const f = (t as FunctionTool | null)?.function;
    if ((t as FunctionTool | null)?.type !== 'function' || !f || typeof f !== 'object')
      throw new InvalidArgumentError(`tools[${i}] must be { type: 'function', function: { name, parameters } }`);
    if (typeof f.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(f.name))
      throw new InvalidArgumentError(`tools[${i}].function.name must be 1 to 64 letters, digits, _ . or -`);
    if (names.has(f.name)) throw new InvalidArgumentError(`tools[${i}]: two tools are named ${f.name}`);
    names.add(f.name);
    if (f.parameters !== undefined) checkJsonSchema(f.parameters, `tools[${i}].function.parameters`);
  });
  const c = (choice ?? 'auto') as ToolChoice;
  if (typeof c === 'string') {
    if (c !== 'none' && c !== 'auto' && c !== 'required')
      throw new InvalidArgumentError(`tool_choice ${JSON.stringify(c)} is not one of none, auto, required or a named function`);
  } else if (c?.type !== 'function' || typeof c.function?.name !== 'string') {
    throw new InvalidArgumentError("tool_choice must be 'none', 'auto', 'required' or { type: 'function', function: { name } }");
  } else if (!names.has(c.function.name)) {
    throw new InvalidArgumentError(`tool_choice names ${c.function.name}, which is not among the tools`);
  }
  return { tools: c === 'none' ? undefined : (tools as FunctionTool[]), choice: c };
}

/**
 * With tool_choice 'required' or a named function, the grammar of one call in the family's syntax whose
 * arguments match the function's parameter schema; undefined for 'auto' and 'none'.
 */
export function toolCallConstraint(format: ToolFormat, tools: readonly FunctionTool[], choice: ToolChoice): Constraint | undefined {
  if (choice === 'auto' || choice === 'none') return undefined;
  const chosen = typeof choice === 'object' ? tools.filter((t) => t.function.name === choice.function.name) : tools;
  const tag = (t: FunctionTool): ToolCallTag => {
    const name = JSON.stringify(t.function.name);
    const schema = t.function.parameters ?? { type: 'object' };
    if (format === 'hermes') return { begin: `<tool_call>\n{"name": ${name}, "arguments": `, schema, end: '}\n</tool_call>' };
    if (format === 'llama3') return { begin: `{"name": ${name}, "parameters": `, schema, end: '}' };
    return { begin: `${DS.begin}${DS.callBegin}function${DS.sep}${t.function.name}\n\`\`\`json\n`, schema, end: `\n\`\`\`${DS.callEnd}${DS.end}` };
  };
  return { kind: 'toolCall', tags: chosen.map(tag) };
}

/**
 * Splits a reply's text, as it streams, into content and the tool calls written in the family's syntax.
 * Text that may be the start of a call is held back until it is known; a call whose JSON does not parse
 * stays in the content as the model wrote it.
 */
export class ToolCallParser {
  private buf = '';
  private inside = false;
  private count = 0;
  private readonly open: string;
  private readonly close: string;

  constructor(private readonly format: ToolFormat) {
    this.open = format === 'hermes' ? '<tool_call>' : format === 'deepseek' ? DS.begin : '';
    this.close = format === 'hermes' ? '</tool_call>' : format === 'deepseek' ? DS.end : '';
  }

  /** Calls found so far. */
  get calls(): number {
    return this.count;
  }

  push(text: string): { content: string; calls: ToolCall[] } {
    this.buf += text;
    if (this.format === 'llama3') return this.llama(false);
    let content = '';
    const calls: ToolCall[] = [];
    for (;;) {
      if (!this.inside) {
        const at = this.buf.indexOf(this.open);
        if (at < 0) {
          const keep = partialSuffix(this.buf, this.open);
          content += this.buf.slice(0, this.buf.length - keep);
          this.buf = this.buf.slice(this.buf.length - keep);
          break;
        }
        content += this.buf.slice(0, at);
        this.buf = this.buf.slice(at + this.open.length);
        this.inside = true;
      }
      const end = this.buf.indexOf(this.close);
      if (end < 0) break;
      const body = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + this.close.length);
      this.inside = false;
      const found = this.format === 'hermes' ? hermesCall(body) : deepseekCalls(body);
      if (found.length === 0) content += this.open + body + this.close;
      for (const f of found) calls.push(this.call(f.name, f.args));
    }
    return { content, calls };
  }

  /** The end of the reply: what is held back, as content or as a call whose end marker never came. */
  flush(): { content: string; calls: ToolCall[] } {
    if (this.format === 'llama3') return this.llama(true);
    const rest = this.buf;
    this.buf = '';
    if (!this.inside) return { content: rest, calls: [] };
    this.inside = false;
    const found = this.format === 'hermes' ? hermesCall(rest) : deepseekCalls(rest);
    if (found.length === 0) return { content: this.open + rest, calls: [] };
    return { content: '', calls: found.map((f) => this.call(f.name, f.args)) };
  }

  // Llama 3: the whole reply is one call or plain text; a reply that starts like a call is held to its end.
  private llama(end: boolean): { content: string; calls: ToolCall[] } {
    const head = this.buf.trimStart();
    const maybe = head === '' || head.startsWith('{') || PYTHON_TAG.startsWith(head.slice(0, PYTHON_TAG.length));
    if (!end && maybe) return { content: '', calls: [] };
    const text = this.buf;
    this.buf = '';
    if (end && maybe) {
      const body = head.startsWith(PYTHON_TAG) ? head.slice(PYTHON_TAG.length) : head;
      const calls = body
        .split(/;\s*(?=\{)/)
        .map((part) => parseCall(part.trim(), 'parameters'))
        .filter((c): c is { name: string; args: string } => !!c);
      if (calls.length > 0 && calls.length === body.split(/;\s*(?=\{)/).length) return { content: '', calls: calls.map((c) => this.call(c.name, c.args)) };
    }
    return { content: text, calls: [] };
  }

  private call(name: string, args: string): ToolCall {
    this.count++;
    return { id: callId(), type: 'function', function: { name, arguments: args } };
  }
}

function hermesCall(body: string): { name: string; args: string }[] {
  const c = parseCall(body.trim(), 'arguments');
  return c ? [c] : [];
}

function deepseekCalls(body: string): { name: string; args: string }[] {
  const out: { name: string; args: string }[] = [];
  const re = new RegExp(`${esc(DS.callBegin)}(\\w+)${esc(DS.sep)}([^\\n]+)\\n\`\`\`(?:json)?\\n([\\s\\S]*?)\\n\`\`\`\\s*${esc(DS.callEnd)}`, 'g');
  let rest = body;
  for (const m of body.matchAll(re)) {
    const args = normalizeJson(m[3]!);
    if (m[1] !== 'function' || args === undefined) return [];
    out.push({ name: m[2]!.trim(), args });
    rest = rest.replace(m[0], '');
  }
  return rest.trim() === '' ? out : [];
}

/** `{"name": ..., "<argsKey>" | "arguments": {...}}` as a call, or undefined. */
function parseCall(text: string, argsKey: string): { name: string; args: string } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const args = o[argsKey] ?? o.arguments ?? o.parameters;
  if (typeof o.name !== 'string' || (args !== undefined && (typeof args !== 'object' || args === null))) return undefined;
  return { name: o.name, args: JSON.stringify(args ?? {}) };
}

function normalizeJson(text: string): string | undefined {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** Length of the longest suffix of `s` that is a proper prefix of `marker`. */
function partialSuffix(s: string, marker: string): number {
  for (let n = Math.min(s.length, marker.length - 1); n > 0; n--) if (marker.startsWith(s.slice(s.length - n))) return n;
  return 0;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function callId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `call_${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
