// The conversation as the user sees it: user bubbles, and assistant replies that stream in with a
// collapsible "Thinking" block (reasoning_content) apart from the answer, and stats under each reply.
import type { GenerationStats } from '../../src/index.js';
import { describeError, formatMs } from './format.js';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** One assistant reply while it streams, then its outcome. */
export class AssistantReply {
  readonly root = el('article', 'message assistant');
  private readonly thinking = el('details', 'thinking');
  private readonly thinkingSummary = el('summary', undefined, 'Thinking…');
  private readonly thinkingText = el('div', 'thinking-text');
  private readonly answer = el('div', 'answer');
  private readonly footer = el('footer', 'stats');
  private readonly started = performance.now();
  private thoughtMs: number | undefined;
  content = '';
  reasoning = '';

  constructor(private readonly scroll: () => void) {
    this.root.setAttribute('aria-label', 'Assistant');
    this.root.setAttribute('aria-busy', 'true');
    this.thinking.open = true;
    this.thinking.hidden = true;
    this.thinking.append(this.thinkingSummary, this.thinkingText);
    this.answer.classList.add('pending');
    this.root.append(el('div', 'role', 'Assistant'), this.thinking, this.answer, this.footer);
  }

  addReasoning(text: string): void {
    if (!text) return;
    this.reasoning += text;
    this.thinking.hidden = false;
    this.thinkingText.textContent = this.reasoning;
    this.scroll();
  }

  addContent(text: string): void {
    if (!text) return;
    if (this.content === '' && this.reasoning) this.endThinking();
    this.content += text;
    this.answer.classList.remove('pending');
    this.answer.textContent = this.content;
    this.scroll();
  }

  /** The reply ended: how (stop, length, abort), with the engine's stats when it gave them. */
  finish(finish: string | null, stats: GenerationStats | undefined): void {
    this.root.removeAttribute('aria-busy');
    this.answer.classList.remove('pending');
    if (this.reasoning) this.endThinking();
    if (!this.content) this.answer.append(el('span', 'muted', this.reasoning ? '(no answer after thinking)' : '(empty reply)'));
    const parts: string[] = [];
    if (stats) {
      parts.push(`${stats.generatedTokens} tokens`);
      parts.push(`first token ${formatMs(stats.timeToFirstTokenMs)}`);
      parts.push(`prefill ${stats.prefillTokens} tok at ${stats.prefillTokensPerSecond.toFixed(1)} tok/s` + (stats.cachedPromptTokens ? ` (${stats.cachedPromptTokens} cached)` : ''));
      parts.push(`decode ${stats.decodeTokensPerSecond.toFixed(1)} tok/s`);
    }
    if (finish === 'abort') parts.push('stopped');
    else if (finish === 'length') parts.push('hit max tokens');
    this.footer.textContent = parts.join(' · ');
    this.scroll();
  }

  fail(e: unknown): void {
    this.root.removeAttribute('aria-busy');
    this.answer.classList.remove('pending');
    const v = describeError(e);
    const box = el('div', 'inline-error', `${v.title}: ${v.message}`);
    if (v.hint) box.append(el('div', 'hint', v.hint));
    this.root.append(box);
    this.scroll();
  }

  private endThinking(): void {
    if (this.thoughtMs !== undefined) return;
    this.thoughtMs = performance.now() - this.started;
    this.thinkingSummary.textContent = `Thought for ${formatMs(this.thoughtMs)}`;
    this.thinking.open = false;
  }
}

export class Transcript {
  constructor(private readonly root: HTMLElement) {}

  clear(note?: string): void {
    this.root.replaceChildren();
    if (note) this.root.append(el('p', 'empty muted', note));
  }

  addUser(text: string): void {
    this.root.querySelector('.empty')?.remove();
    const m = el('article', 'message user');
    m.setAttribute('aria-label', 'You');
    m.append(el('div', 'role', 'You'), el('div', 'answer', text));
    this.root.append(m);
    this.scrollToEnd();
  }

  addAssistant(): AssistantReply {
    const reply = new AssistantReply(() => this.scrollToEnd());
    this.root.append(reply.root);
    this.scrollToEnd();
    return reply;
  }

  addNote(text: string): void {
    this.root.querySelector('.empty')?.remove();
    this.root.append(el('p', 'note muted small', text));
    this.scrollToEnd();
  }

  private scrollToEnd(): void {
    const r = this.root;
    if (r.scrollHeight - r.scrollTop - r.clientHeight < 120) r.scrollTop = r.scrollHeight;
  }
}
