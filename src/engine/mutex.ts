/** One holder at a time, in call order: a model runs one load or generation at once. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves with the release function when the previous holders have released. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => held);
    return ready;
  }
}
