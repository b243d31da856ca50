// The conversation as the user sees it: user bubbles, and assistant replies rendered as sanitized
// Markdown as they stream in, with a collapsible "Thinking" block (reasoning_content) apart from the
// answer and stats under each reply. Stored conversations are drawn with the same elements.
import type { GenerationStats } from '../../src/index.js';
import type { StoredMessage } from './conversations.js';
import { describeError, formatMs } from './format.js';
import { renderReply } from './markdown.js';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The stats line of a finished reply. */
export function statsLine(finish: string | null, stats: GenerationStats | undefined): string {
  const parts: string[] = [];
  if (stats) {
    parts.push(`${stats.generatedTokens} tokens`);
    parts.push(`first token ${formatMs(stats.timeToFirstTokenMs)}`);
    parts.push(
      `prefill ${stats.prefillTokens} tok at ${stats.prefillTokensPerSecond.toFixed(1)} tok/s` +
        (stats.cachedPromptTokens ? ` (${stats.cachedPromptTokens} cached)` : ''),
    );
    parts.push(`decode ${stats.decodeTokensPerSecond.toFixed(1)} tok/s`);
  }
  if (finish === 'abort') parts.push('stopped');
  else if (finish === 'length') parts.push('hit max tokens');
  return parts.join(' · ');
}

/** One assistant reply: while it streams, then its outcome. */
export class AssistantReply {
  readonly root = el('article', 'message assistant');
  private readonly thinking = el('details', 'thinking');
  private readonly thinkingSummary = el('summary', undefined, 'Thinking…');
  private readonly thinkingText = el('div', 'thinking-text');
  private readonly answer = el('div', 'answer markdown');
  private readonly live = el('footer', 'stats live');
  private readonly footer = el('footer', 'stats');
  private readonly started = performance.now();
  private firstTokenAt: number | undefined;
  private tokens = 0;
  private thoughtMs: number | undefined;
  private frame = 0;
  content = '';
  reasoning = '';
  stats = '';
  error: string | undefined;
  /** A JSON-mode reply: drawn as a JSON code block rather than Markdown. */
  json = false;

  constructor(private readonly scroll: () => void) {
    this.root.setAttribute('aria-label', 'Assistant');
    this.thinking.hidden = true;
    this.thinking.append(this.thinkingSummary, this.thinkingText);
    this.root.append(el('div', 'role', 'Assistant'), this.thinking, this.answer, this.live, this.footer);
  }

  /** Marks it as streaming (a pending cursor, aria-busy, live stats). */
  start(): this {
    this.root.setAttribute('aria-busy', 'true');
    this.thinking.open = true;
    this.answer.classList.add('pending');
    return this;
  }

  /** Draws a stored reply. */
  static stored(m: StoredMessage, scroll: () => void): AssistantReply {
    const r = new AssistantReply(scroll);
    r.content = m.content;
    r.reasoning = m.reasoning ?? '';
    r.stats = m.stats ?? '';
    r.json = m.format === 'json';
    if (r.reasoning) {
      r.thinking.hidden = false;
      r.thinkingSummary.textContent = 'Thinking';
      r.thinkingText.textContent = r.reasoning;
    }
    renderReply(r.answer, r.content, r.json);
    if (!r.content && !m.error) r.answer.append(el('span', 'muted', '(empty reply)'));
    if (m.error) r.root.append(el('div', 'inline-error', m.error));
    r.footer.textContent = r.stats;
    return r;
  }

  addReasoning(text: string): void {
    if (!text) return;
    this.tick();
    this.reasoning += text;
    this.thinking.hidden = false;
    this.thinkingText.textContent = this.reasoning;
    this.scroll();
  }

  addContent(text: string): void {
    if (!text) return;
    this.tick();
    if (this.content === '' && this.reasoning) this.endThinking();
    this.content += text;
    this.answer.classList.remove('pending');
    // Markdown re-rendered at most once a frame: a long reply streams without re-parsing per token.
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        renderReply(this.answer, this.content, this.json);
        this.scroll();
      });
    }
  }

  /** Live stats while it streams: time to first token, and tokens/s of the chunks seen so far. */
  private tick(): void {
    const now = performance.now();
    this.tokens++;
    this.firstTokenAt ??= now;
    const rate = this.tokens > 1 ? ((this.tokens - 1) * 1000) / (now - this.firstTokenAt) : 0;
    this.live.textContent = `first token ${formatMs(this.firstTokenAt - this.started)}` + (rate ? ` · ${rate.toFixed(1)} tok/s` : '');
  }

  /** The reply ended: how (stop, length, abort), with the engine's stats when it gave them. */
  finish(finish: string | null, stats: GenerationStats | undefined): void {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.root.removeAttribute('aria-busy');
    this.answer.classList.remove('pending');
    renderReply(this.answer, this.content, this.json);
    if (this.reasoning) this.endThinking();
    if (!this.content) this.answer.append(el('span', 'muted', this.reasoning ? '(no answer after thinking)' : '(empty reply)'));
    this.live.remove();
    this.stats = statsLine(finish, stats);
    this.footer.textContent = this.stats;
    this.scroll();
  }

  fail(e: unknown): void {
    cancelAnimationFrame(this.frame);
    this.root.removeAttribute('aria-busy');
    this.answer.classList.remove('pending');
    this.live.remove();
    const v = describeError(e);
    this.error = `${v.title}: ${v.message}`;
    const box = el('div', 'inline-error', this.error);
    if (v.hint) box.append(el('div', 'hint', v.hint));
    this.root.append(box);
    this.scroll();
  }

  toStored(): StoredMessage {
    return {
      role: 'assistant',
      content: this.content,
      ...(this.reasoning ? { reasoning: this.reasoning } : {}),
      ...(this.stats ? { stats: this.stats } : {}),
      ...(this.json ? { format: 'json' as const } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
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

  /** Empties the view; `empty` is what an empty conversation shows (text, or an element with actions). */
  clear(empty?: string | HTMLElement): void {
    this.root.replaceChildren();
    if (typeof empty === 'string') this.root.append(el('p', 'empty muted', empty));
    else if (empty) this.root.append(empty);
  }

  /** Draws a stored conversation. */
  show(messages: readonly StoredMessage[]): void {
    if (messages.length === 0) return;
    this.root.querySelector('.empty')?.remove();
    for (const m of messages) {
      if (m.role === 'user') this.addUser(m.content);
      else this.root.append(AssistantReply.stored(m, () => this.scrollToEnd()).root);
    }
    this.root.scrollTop = this.root.scrollHeight;
  }

  addUser(text: string): void {
    this.root.querySelector('.empty')?.remove();
    const m = el('article', 'message user');
    m.setAttribute('aria-label', 'You');
    m.append(el('div', 'role', 'You'), el('div', 'answer', text));
    this.root.append(m);
    this.scrollToEnd(true);
  }

  addAssistant(): AssistantReply {
    const reply = new AssistantReply(() => this.scrollToEnd()).start();
    this.root.append(reply.root);
    this.scrollToEnd(true);
    return reply;
  }

  addNote(text: string): void {
    this.root.querySelector('.empty')?.remove();
    this.root.append(el('p', 'note muted small', text));
    this.scrollToEnd();
  }

  private scrollToEnd(force = false): void {
    const r = this.root;
    if (force || r.scrollHeight - r.scrollTop - r.clientHeight < 120) r.scrollTop = r.scrollHeight;
  }
}
