/**
 * The token ids whose keys and values are in a model's KV cache, so that a new prompt sharing a prefix
 * with them (the next turn of a chat) forwards only what follows the shared part.
 */
export class KvPrefix {
  private ids: number[] = [];

  get length(): number {
    return this.ids.length;
  }

  /** The cached ids, in position order. */
  get tokens(): readonly number[] {
    return this.ids;
  }

  /**
   * How many leading tokens of `prompt` can be reused: the common prefix with the cached ids, at most
   * prompt.length - 1 (the last prompt token is always forwarded: its logits pick the first new token).
   */
  reusable(prompt: readonly number[], cachedLength: number): number {
    const n = Math.min(prompt.length - 1, this.ids.length, cachedLength);
    let i = 0;
    while (i < n && prompt[i] === this.ids[i]) i++;
    return Math.max(i, 0);
  }

  /** Notes a forward of `ids` at `start`: the model dropped what was cached at positions >= start. */
  forwarded(ids: readonly number[], start: number): void {
    this.ids.length = Math.min(this.ids.length, start);
    for (const id of ids) this.ids.push(id);
  }

  clear(): void {
    this.ids = [];
  }
}
