/**
 * Where checkpoint files come from: a local folder (Node), a URL, or the IndexedDB chunk store. Loaders
 * read byte ranges, so a file is never held whole in memory unless it is small.
 */
export interface ByteSource {
  /** Total bytes. */
  readonly size: number;
  /** Bytes [offset, offset + length); rejects with InvalidModelError when the range passes the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Bytes [offset, offset + target.byteLength) into `target` (a staging buffer's mapped range at load), where the
   * source can read into memory it is given (a local file); the same checks and errors as `read`.
   */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
  /** Closes what the source holds open (a file handle); a read after it opens it again. */
  close?(): Promise<void>;
}

/** The files of one model (a Hugging Face repo layout, or a folder holding a .gguf). */
export interface ModelFiles {
  /** A name for messages: a path, a URL or a repo id. */
  readonly location: string;
  has(path: string): Promise<boolean>;
  open(path: string): Promise<ByteSource>;
  /** A small file as text (config.json, tokenizer.json). Rejects with ModelNotFoundError when missing. */
  text(path: string): Promise<string>;
  /** Paths of the files, where they can be listed (a folder, picked files; not HTTP). */
  list?(): Promise<string[]>;
  /** Closes what the sources opened from these files hold open (the loader calls it when a load ends); reads after it open them again. */
  close?(): Promise<void>;
}
