/**
 * Record once, replay: a step whose work is the same list of dispatches every time (a decode token, its
 * sampling) is recorded once through the kernels while the context captures what they record: pipeline,
 * bind group (with its uniform slot) and grid of each dispatch, the buffer copies between them, and the
 * packed uniforms. Later steps replay that flat list with no kernel JS at all (no shape checks, no
 * parameter packing, no bind-group lookups); only the uniform words that the kernels marked as step inputs
 * (`Params.u32(v, input)`, `Params.f32(v, input)`) are rewritten. A kernel whose grid or structure depends
 * on an input (attention's chunks of keys over the context length) states with `GpuContext.guard` for which
 * values its dispatches hold; a step outside them is recorded and captured again.
 */

/** The values that vary between steps of one recording, by name (the step's position, the sampler's draw, ...). */
export type StepInputs = Readonly<Record<string, number>>;

/** The position of the step's first token: `writeKv` and `attention` mark their `startPos` with it. */
export const POSITION = 'position';

const DISPATCH = 0;
const INDIRECT = 1;
const COPY = 2;

interface Guard {
  readonly input: string;
  readonly delta: number;
  readonly holds: (value: number) => boolean;
}

/** What the context collects while a step is captured (`GpuContext.beginCapture`). */
export class StepCapture {
  /** A flush, a queue write or anything else the list cannot replay happened: no recording comes of it. */
  broken = false;
  readonly ops: number[] = [];
  readonly pipelines: GPUComputePipeline[] = [];
  readonly groups: GPUBindGroup[] = [];
  /** Dispatch: x, y, z; indirect: byte offset, 0, 0. */
  readonly grids: number[] = [];
  readonly buffers: GPUBuffer[] = []; // indirect: the grid buffer; copy: source, destination
  readonly copies: number[] = []; // source offset, destination offset, bytes
  readonly patchWords: number[] = [];
  readonly patchInputs: string[] = [];
  readonly patchDeltas: number[] = [];
  readonly patchFloat: boolean[] = [];
  readonly guards: Guard[] = [];
  dispatches = 0;

  constructor(
    readonly inputs: StepInputs,
    readonly startSlot: number,
  ) {}

  dispatch(pipeline: GPUComputePipeline, group: GPUBindGroup, x: number, y: number, z: number): void {
    this.ops.push(DISPATCH);
    this.pipelines.push(pipeline);
    this.groups.push(group);
    this.grids.push(x, y, z);
    this.dispatches++;
  }

  indirect(pipeline: GPUComputePipeline, group: GPUBindGroup, buffer: GPUBuffer, byteOffset: number): void {
    this.ops.push(INDIRECT);
    this.pipelines.push(pipeline);
    this.groups.push(group);
    this.grids.push(byteOffset, 0, 0);
    this.buffers.push(buffer);
    this.dispatches++;
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.ops.push(COPY);
    this.buffers.push(src, dst);
    this.copies.push(srcOffset, dstOffset, bytes);
  }

  /** Words of uniform slot `slot` that are step inputs: `marks` is Params.inputs (word, input, value, float). */
  patch(slot: number, wordsPerSlot: number, marks: readonly (number | string | boolean)[]): void {
    for (let i = 0; i < marks.length; i += 4) {
      const word = marks[i] as number;
      const input = marks[i + 1] as string;
      const value = marks[i + 2] as number;
      const float = marks[i + 3] as boolean;
      const base = this.inputs[input];
      // A u32 may be the input plus a constant; an f32 must be the input itself.
      const delta = base === undefined ? NaN : value - base;
      if (!(float ? value === Math.fround(base!) || value === base : Number.isInteger(delta))) {
        this.broken = true;
        return;
      }
      this.patchWords.push((slot - this.startSlot) * wordsPerSlot + word);
      this.patchInputs.push(input);
      this.patchDeltas.push(float ? 0 : delta);
      this.patchFloat.push(float);
    }
  }

  guard(input: string, value: number, holds: (value: number) => boolean): void {
    const base = this.inputs[input];
    if (base === undefined) this.broken = true;
    else this.guards.push({ input, delta: value - base, holds });
  }
}

/** A captured step, replayed by `GpuContext.replayStep`. */
export class StepRecording {
  readonly ops: Uint8Array;
  readonly pipelines: readonly GPUComputePipeline[];
  readonly groups: readonly GPUBindGroup[];
  readonly grids: Uint32Array;
  readonly buffers: readonly GPUBuffer[];
  readonly copies: readonly number[];
  readonly dispatches: number;
  private readonly patchWords: Uint32Array;
  private readonly patchInputs: readonly string[];
  private readonly patchDeltas: Float64Array;
  private readonly patchFloat: Uint8Array;
  private readonly guards: readonly Guard[];

  constructor(
    c: StepCapture,
    readonly startSlot: number,
    /** The packed uniforms of slots startSlot .. startSlot + slots - 1. */
    readonly params: Uint8Array,
    readonly slots: number,
  ) {
    this.ops = Uint8Array.from(c.ops);
    this.pipelines = c.pipelines;
    this.groups = c.groups;
    this.grids = Uint32Array.from(c.grids);
    this.buffers = c.buffers;
    this.copies = c.copies;
    this.dispatches = c.dispatches;
    this.patchWords = Uint32Array.from(c.patchWords);
    this.patchInputs = c.patchInputs;
    this.patchDeltas = Float64Array.from(c.patchDeltas);
    this.patchFloat = Uint8Array.from(c.patchFloat, (f) => (f ? 1 : 0));
    this.guards = c.guards;
  }

  /** Whether every kernel's guard holds for `inputs` (and each input a patch reads is given). */
  holds(inputs: StepInputs): boolean {
    for (const g of this.guards) {
      const v = inputs[g.input];
      if (v === undefined || !g.holds(v + g.delta)) return false;
    }
    for (const name of this.patchInputs) if (inputs[name] === undefined) return false;
    return true;
  }

  /** Writes the step's inputs into its uniforms: `words` / `floats` view the arena's staging from startSlot. */
  patch(words: Uint32Array, floats: Float32Array, base: number, inputs: StepInputs): void {
    const w = this.patchWords;
    for (let i = 0; i < w.length; i++) {
      const v = inputs[this.patchInputs[i]!]!;
      if (this.patchFloat[i]) floats[base + w[i]!] = v;
      else words[base + w[i]!] = v + this.patchDeltas[i]!;
    }
  }
}

export const OP_DISPATCH = DISPATCH;
export const OP_INDIRECT = INDIRECT;
export const OP_COPY = COPY;

/** Interface of the context that `CapturedStep` drives (GpuContext implements it). */
export interface StepReplayer {
  readonly replay: boolean;
  beginCapture(inputs: StepInputs): void;
  endCapture(): StepRecording | undefined;
  replayStep(r: StepRecording, inputs: StepInputs): boolean;
}

/** Recordings one call site keeps: the decode step with and without idFrom, over a bucket or two. */
const KEEP = 4;

/**
 * One call site's captured steps (a model's decode token, a sampler's draw): the last few recordings and the
 * keys they were made under. `replay(key, inputs)` replays one whose key is equal (same buffers, same
 * options, element by element with ===) and whose guards hold; else the caller records the step between
 * `begin()` and `end()`, which captures it for the next time. With `ctx.replay` false every step is recorded
 * afresh (and nothing is captured).
 */
export class CapturedStep {
  private readonly entries: { key: readonly unknown[]; recording: StepRecording }[] = [];
  private pendingKey: readonly unknown[] = [];
  private pendingInputs: StepInputs = {};
  private capturing = false;
  /** Steps replayed and recorded through this call site: figures for tests and benchmarks. */
  replayed = 0;
  recorded = 0;

  constructor(private readonly ctx: StepReplayer) {}

  /** The recording replayed or captured last (benchmarks time its dispatches one by one). */
  get latest(): StepRecording | undefined {
    return this.entries[0]?.recording;
  }

  replay(key: readonly unknown[], inputs: StepInputs): boolean {
    this.pendingKey = key;
    this.pendingInputs = inputs;
    if (!this.ctx.replay) return false;
    const e = this.entries;
    for (let i = 0; i < e.length; i++) {
      if (!sameKey(key, e[i]!.key) || !this.ctx.replayStep(e[i]!.recording, inputs)) continue;
      if (i > 0) e.unshift(...e.splice(i, 1));
      this.replayed++;
      return true;
    }
    return false;
  }

  /** Starts capturing what is recorded until `end()` (under the key and inputs of the last `replay`). */
  begin(): void {
    this.recorded++;
    if (!this.ctx.replay) return;
    this.ctx.beginCapture(this.pendingInputs);
    this.capturing = true;
  }

  end(): void {
    if (!this.capturing) return;
    this.capturing = false;
    const recording = this.ctx.endCapture();
    if (!recording) return;
    this.entries.unshift({ key: this.pendingKey, recording });
    if (this.entries.length > KEEP) this.entries.pop();
  }

  /** Drops the recordings (the next step is recorded). */
  clear(): void {
    this.entries.length = 0;
  }
}

function sameKey(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
