/**
 * When to ask for a decode step's mapping (Node over Dawn only; GpuContext.readPacer).
 *
 * While a `mapAsync` is pending, dawn.node polls the device on every turn of the event loop and creates a new
 * JS function for each poll, with a native finalizer (its AsyncRunner: "TODO: Create once, reuse"). A decode
 * always has a map pending, so the process turns out tens of MB of such functions a second (bench/README.md,
 * "Decode stalls"): they survive the young collections and drive major ones, and the poll takes a CPU core (on a
 * 2-core machine, from SwiftShader's threads). Waiting out most of a step's expected time on a timer before
 * mapping keeps the poll to its last stretch; src/gpu/pollThrottle.ts slows what is left of it in long waits.
 *
 * The expected time is the least of the last STEPS_KEPT steps' times from submit to mapped: a step asked for
 * while a prompt still runs (the first of a generation) takes far longer and does not count, and a model that
 * got faster is followed at once. The wait is a fraction of it less the timer's granularity, so that a step
 * that finished early waits little. Prompts are not paced: their time varies with the length and with what a
 * first run compiles, and waiting too long delays the first token (measured: a 512-token prompt paced from its
 * warm-up ran at a third of its speed).
 */
/** Share of the expected time waited on the timer before mapping. */
const STEP_FRACTION = 0.8;
/** Subtracted from the wait: Node's timers fire on whole milliseconds, often one late. */
const TIMER_SLACK_MS = 1;
/** Step timings kept. */
const STEPS_KEPT = 8;

export class ReadPacer {
  private readonly steps: number[] = [];

  /** Whole milliseconds to wait before mapping the next step (0: map now). */
  delayMs(): number {
    if (!this.steps.length) return 0;
    return Math.max(0, Math.floor(Math.min(...this.steps) * STEP_FRACTION - TIMER_SLACK_MS));
  }

  /** A step took `ms` from submit to mapped. */
  observe(ms: number): void {
    if (!(ms > 0)) return;
    this.steps.push(ms);
    if (this.steps.length > STEPS_KEPT) this.steps.shift();
  }

  /** Forgets the steps seen (a new model: other step times). */
  reset(): void {
    this.steps.length = 0;
  }
}

/** Resolves after `ms` milliseconds (0: at once). */
export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((done) => setTimeout(done, ms)) : Promise.resolve();
}
