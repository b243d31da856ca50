// Replies as Markdown (marked), sanitized before they touch the DOM (DOMPurify): a model's output is
// untrusted text, and raw HTML in it must not run. Code blocks get a Copy button and highlighting.
import DOMPurify from 'dompurify';
import { Marked } from 'marked';
import { highlightCode } from './highlight.js';

const marked = new Marked({ gfm: true, breaks: true, async: false });

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

/** Sanitized HTML of Markdown text. */
export function markdownToHtml(text: string): string {
  const html = marked.parse(text) as string;
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ['style', 'form', 'input', 'button', 'img'], FORBID_ATTR: ['style'] });
}

/** A reply drawn in `el`: Markdown, or (a JSON-mode reply) one JSON code block, indented when it parses. */
export function renderReply(el: HTMLElement, text: string, json: boolean): void {
  if (!json) return renderMarkdown(el, text);
  let body = text;
  try {
    body = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // still streaming, or cut at max tokens: shown as it came
  }
  const fence = '`'.repeat(Math.max(3, ...Array.from(body.matchAll(/`+/g), (m) => m[0].length + 1)));
  renderMarkdown(el, `${fence}json\n${body}\n${fence}`);
}

/** Renders Markdown into `el`, with a Copy button on each code block. */
export function renderMarkdown(el: HTMLElement, text: string): void {
  el.innerHTML = markdownToHtml(text);
  for (const pre of el.querySelectorAll('pre')) {
    const code = pre.querySelector('code');
    const lang = /language-([\w+-]+)/.exec(code?.className ?? '')?.[1];
    const bar = document.createElement('div');
    bar.className = 'code-bar';
    const label = document.createElement('span');
    label.textContent = lang ?? 'code';
    const copy = document.createElement('button');
    Object.assign(copy, { type: 'button', className: 'copy small-button secondary', textContent: 'Copy' });
    copy.setAttribute('aria-label', `Copy ${lang ?? ''} code`.replace('  ', ' '));
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(code?.textContent ?? pre.textContent ?? '');
        copy.textContent = 'Copied';
      } catch {
        copy.textContent = 'Copy failed';
      }
      setTimeout(() => (copy.textContent = 'Copy'), 1500);
    });
    bar.append(label, copy);
    const wrap = document.createElement('div');
    wrap.className = 'code-block';
    pre.replaceWith(wrap);
    wrap.append(bar, pre);
  }
  highlightCode(el);
}
