const OPEN = '<think>';
const CLOSE = '</think>';

/** Text of a reasoning model's reply split as DeepSeek's API returns it. */
export interface ReplyParts {
  readonly reasoning: string;
  readonly content: string;
}

/**
 * Splits a streamed reply of a reasoning model (DeepSeek-R1 and its distills, Qwen3) into the thinking
 * between <think> and </think> and the answer after it. `startsInThinking` is for chat templates whose
 * generation prompt already opens <think> (DeepSeek-R1's), so the model only emits the closing tag. A tag
 * split across tokens is held back until it is complete; newlines next to the tags are dropped.
 */
export class ThinkSplitter {
  private state: 'start' | 'reasoning' | 'content';
  private held = '';
  private trimLeading = true;

  constructor(startsInThinking: boolean) {
    this.state = startsInThinking ? 'reasoning' : 'start';
  }

  push(text: string): ReplyParts {
    let buf = this.held + text;
    this.held = '';
    let reasoning = '';
    let content = '';
    for (;;) {
      if (this.trimLeading) {
        buf = buf.replace(/^\n+/, '');
        if (buf === '') break;
        this.trimLeading = false;
      }
      if (this.state === 'start') {
        const t = buf.replace(/^\s+/, '');
        if (t.startsWith(OPEN)) {
          buf = t.slice(OPEN.length);
          this.state = 'reasoning';
          this.trimLeading = true;
          continue;
        }
        if (OPEN.startsWith(t)) {
          this.held = buf; // '' or a part of '<think>' (after whitespace): wait
          break;
        }
        this.state = 'content';
      }
      if (this.state === 'content') {
        content += buf;
        break;
      }
      const i = buf.indexOf(CLOSE);
      if (i >= 0) {
        reasoning += buf.slice(0, i).replace(/\n+$/, '');
        buf = buf.slice(i + CLOSE.length);
        this.state = 'content';
        this.trimLeading = true;
        continue;
      }
      // Hold a partial '</think>' and the newlines before it (dropped when the tag follows them).
      let keep = partialSuffix(buf, CLOSE);
      const body = buf.slice(0, buf.length - keep);
      keep += body.length - body.replace(/\n+$/, '').length;
      reasoning += buf.slice(0, buf.length - keep);
      this.held = buf.slice(buf.length - keep);
      break;
    }
    return { reasoning, content };
  }

  /** What is still held at the end of the reply. */
  flush(): ReplyParts {
    const t = this.held;
    this.held = '';
    return this.state === 'reasoning' ? { reasoning: t, content: '' } : { reasoning: '', content: t };
  }
}

function partialSuffix(buf: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, buf.length); n > 0; n--) if (buf.endsWith(tag.slice(0, n))) return n;
  return 0;
}
