/** What a StreamDecoder needs of a tokenizer. */
export interface Detokenizer {
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
}

/**
 * Turns a stream of token ids into text deltas that never split a character. A character made of several
 * bytes may span tokens: the decoded tail then ends in U+FFFD and the delta is held until the next token
 * completes it. Text is decoded over a short window of recent tokens (not one token alone), so decoders
 * that strip a leading space from the first token (SentencePiece, ByteLevel prefix space) stay exact.
 */
export class StreamDecoder {
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;

  constructor(
    private readonly tok: Detokenizer,
    private readonly skipSpecialTokens = true,
  ) {}

  /** Adds one token; returns the text it completes ('' while a character is incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const prefix = this.decode(this.prefixOffset, this.readOffset);
    const full = this.decode(this.prefixOffset, this.ids.length);
    if (full.length > prefix.length && !full.endsWith('\uFFFD')) {
      const delta = full.slice(prefix.length);
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      return delta;
    }
    return '';
  }

  /** The text still held back (an incomplete character at the end of the stream), as the tokenizer decodes it. */
  flush(): string {
    const prefix = this.decode(this.prefixOffset, this.readOffset);
    const full = this.decode(this.prefixOffset, this.ids.length);
    this.prefixOffset = this.readOffset = this.ids.length;
    return full.length > prefix.length ? full.slice(prefix.length) : '';
  }

  private decode(from: number, to: number): string {
    return from >= to ? '' : this.tok.decode(this.ids.slice(from, to), { skipSpecialTokens: this.skipSpecialTokens });
  }
}
