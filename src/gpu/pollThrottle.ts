/**
 * How often the event loop turns while a Dawn operation is pending (Node over Dawn only; GpuContext.pollThrottle).
 *
 * dawn.node settles its promises by polling the device from `setImmediate`, once per turn of the event loop, and
 * makes a new JS function with a native finalizer for each poll (its AsyncRunner: "TODO: Create once, reuse"). An
 * idle loop turns tens of thousands of times a second, so a long wait (a prompt, a load, a SwiftShader step)
 * turns out tens of MB of such functions: they drive the major collections that stall later decode steps
 * (bench/README.md, "Decode stalls"), and on a 2-core machine the poll takes a core from SwiftShader's threads.
 *
 * While a wait is pending, each turn of the loop here blocks the thread a little (Atomics.wait): a share of the
 * time the youngest pending wait has run so far, at most MAX_BLOCK_MS, and nothing in its first
 * `FRACTION * MIN_BLOCK_MS`. A wait is then noticed at most that share late, and a wait of 1 s turns the loop
 * about a thousand times instead of tens of thousands. Short waits (a decode step on a real GPU) are untouched.
 */

/** Share of the time waited so far that a turn blocks for. */
const FRACTION = 0.01;
/** Shortest block worth its call (Linux timer slack is ~50 µs), and the longest. */
const MIN_BLOCK_MS = 0.05;
const MAX_BLOCK_MS = 1;

/** Milliseconds a turn blocks for after `elapsedMs` of waiting (0: not at all). */
export function blockMs(elapsedMs: number): number {
  const ms = Math.min(MAX_BLOCK_MS, elapsedMs * FRACTION);
  return ms >= MIN_BLOCK_MS ? ms : 0;
}

/** What the throttle needs of its host: the clock, a blocking sleep and the next turn of the loop. */
export interface LoopHooks {
  now(): number;
  block(ms: number): void;
  nextTurn(fn: () => void): void;
}

const cell = typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : undefined;

const nodeHooks: LoopHooks = {
  now: () => performance.now(),
  block: (ms) => {
    if (cell) Atomics.wait(cell, 0, 0, ms);
  },
  nextTurn: (fn) => setImmediate(fn),
};

export class PollThrottle {
  /** Start times of the waits pending, oldest first. */
  private readonly starts: number[] = [];
  private turning = false;

  constructor(private readonly hooks: LoopHooks = nodeHooks) {}

  /** Settles as `p` does; while it is pending, the event loop turns slower the longer it has waited. */
  async during<T>(p: Promise<T>): Promise<T> {
    const start = this.hooks.now();
    this.starts.push(start);
    if (!this.turning) {
      this.turning = true;
      this.hooks.nextTurn(this.turn);
    }
    try {
      return await p;
    } finally {
      this.starts.splice(this.starts.indexOf(start), 1);
    }
  }

  /** Waits pending now. */
  get pending(): number {
    return this.starts.length;
  }

  private readonly turn = (): void => {
    if (!this.starts.length) {
      this.turning = false;
      return;
    }
    const ms = blockMs(this.hooks.now() - this.starts[this.starts.length - 1]!);
    if (ms > 0) this.hooks.block(ms);
    this.hooks.nextTurn(this.turn);
  };
}
