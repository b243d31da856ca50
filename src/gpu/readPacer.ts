/**
 * When to ask for a read's mapping (Node over Dawn only; GpuContext.readPacer).
 *
 * While a `mapAsync` is pending, dawn.node polls the device on every turn of the event loop and creates a new
 * JS function for each poll, with a native finalizer (its AsyncRunner: "TODO: Create once, reuse"). A decode
 * always has a map pending, so it turns out about 70 MB of such functions a second, and they survive the young
 * collections: on the H200 host they drove major collections whose pauses and finalizers stalled the 30B's
 * decode for 100-450 ms per 128 tokens at 4,096 positions (bench/README.md, "Decode stalls"). Waiting out most
 * of a read's expected time on a timer before mapping keeps the poll to its last stretch.
 *
 * The expectation is learned per kind of read from the time each took from submit to mapped:
 * - 'step': a one-token decode step: the least of the last STEPS_KEPT steps' times. A step asked for while a
 *   prompt still runs (the first of a generation) takes far longer and does not count; a model that got faster
 *   is followed at once.
 * - 'prompt': a prompt of `units` tokens, from prompts of n to 2n tokens seen before, scaled to its length
 *   down (prefill time per token falls as prompts lengthen, so a longer prompt's figure scaled down
 *   underestimates); no figure for a prompt longer than half of all seen: it polls from the start.
 * The wait is a fraction of that, less the timer's own granularity, so that a read finished early waits little.
 */
export type ReadKind = 'step' | 'prompt';

export interface ReadPace {
  readonly kind: ReadKind;
  /** Tokens of the step (1) or the prompt. */
  readonly units: number;
}

/** Share of the expected time waited on the timer before mapping: steps, prompts. */
const STEP_FRACTION = 0.8;
const PROMPT_FRACTION = 0.7;
/** Subtracted from the wait: Node's timers fire on whole milliseconds, often one late. */
const TIMER_SLACK_MS = 1;
/** Step timings kept. */
const STEPS_KEPT = 8;
/** Prompt timings kept. */
const PROMPTS_KEPT = 16;

export class ReadPacer {
  private readonly steps: number[] = [];
  private readonly prompts: { units: number; ms: number }[] = [];

  /** Whole milliseconds to wait before mapping a read of this kind (0: map now). */
  delayMs(pace: ReadPace): number {
    const expected = pace.kind === 'step' ? this.stepMs() * STEP_FRACTION : this.promptMs(pace.units) * PROMPT_FRACTION;
    return Math.max(0, Math.floor(expected - TIMER_SLACK_MS));
  }

  /** A read of this kind took `ms` from submit to mapped. */
  observe(pace: ReadPace, ms: number): void {
    if (!(ms > 0) || !(pace.units >= 1)) return;
    if (pace.kind === 'step') {
      this.steps.push(ms);
      if (this.steps.length > STEPS_KEPT) this.steps.shift();
      return;
    }
    this.prompts.push({ units: pace.units, ms });
    if (this.prompts.length > PROMPTS_KEPT) this.prompts.shift();
  }

  /** Forgets what was learned (a new model: other step and prompt times). */
  reset(): void {
    this.steps.length = 0;
    this.prompts.length = 0;
  }

  private stepMs(): number {
    return this.steps.length ? Math.min(...this.steps) : 0;
  }

  private promptMs(units: number): number {
    let best = Infinity;
    for (const p of this.prompts) if (p.units >= units && p.units <= 2 * units) best = Math.min(best, (p.ms * units) / p.units);
    return best === Infinity ? 0 : best;
  }
}

/** Resolves after `ms` milliseconds (0: at once). */
export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((done) => setTimeout(done, ms)) : Promise.resolve();
}
