// Syntax highlighting of code blocks (highlight.js core with common languages), loaded on the first code
// block so the page does not carry it before a reply has code. highlight.js escapes the code it wraps in
// spans; its output is sanitized again anyway (only <span class>), as everything from a model is.
import DOMPurify from 'dompurify';

type HighlightFn = (code: string, language: string) => string | undefined;

let highlighter: HighlightFn | undefined;
let loading: Promise<HighlightFn> | undefined;

async function load(): Promise<HighlightFn> {
  const [{ default: hljs }, ...langs] = await Promise.all([
    import('highlight.js/lib/core'),
    import('highlight.js/lib/languages/bash'),
    import('highlight.js/lib/languages/c'),
    import('highlight.js/lib/languages/cpp'),
    import('highlight.js/lib/languages/css'),
    import('highlight.js/lib/languages/go'),
    import('highlight.js/lib/languages/java'),
    import('highlight.js/lib/languages/javascript'),
    import('highlight.js/lib/languages/json'),
    import('highlight.js/lib/languages/python'),
    import('highlight.js/lib/languages/rust'),
    import('highlight.js/lib/languages/sql'),
    import('highlight.js/lib/languages/typescript'),
    import('highlight.js/lib/languages/xml'),
    import('highlight.js/lib/languages/yaml'),
  ]);
  const names = ['bash', 'c', 'cpp', 'css', 'go', 'java', 'javascript', 'json', 'python', 'rust', 'sql', 'typescript', 'xml', 'yaml'];
  names.forEach((n, i) => hljs.registerLanguage(n, langs[i]!.default));
  return (code, language) => {
    if (!hljs.getLanguage(language)) return undefined;
    const html = hljs.highlight(code, { language, ignoreIllegals: true }).value;
    return DOMPurify.sanitize(html, { ALLOWED_TAGS: ['span'], ALLOWED_ATTR: ['class'] });
  };
}

function apply(root: HTMLElement, hl: HighlightFn): void {
  for (const code of root.querySelectorAll<HTMLElement>('pre code[class*="language-"]:not(.hljs)')) {
    const lang = /language-([\w+-]+)/.exec(code.className)?.[1]?.toLowerCase();
    const html = lang ? hl(code.textContent ?? '', lang) : undefined;
    if (html === undefined) continue;
    code.innerHTML = html;
    code.classList.add('hljs');
  }
}

/** Highlights the code blocks of `root` that name a known language: at once when the library is loaded, else once it is. */
export function highlightCode(root: HTMLElement): void {
  if (!root.querySelector('pre code[class*="language-"]')) return;
  if (highlighter) return apply(root, highlighter);
  loading ??= load().then((h) => (highlighter = h));
  loading.then(
    (h) => root.isConnected && apply(root, h),
    () => undefined, // not loaded (offline before it was cached): the code stays plain
  );
}
