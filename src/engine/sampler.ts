import { CapturedStep } from '../gpu/capture.js';
import type { GpuContext } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { countToken, sample, samplePlan, type SampleArgs } from '../kernels/sample.js';
import { InvalidArgumentError } from '../errors.js';
import { seededRandom } from './random.js';
import type { SamplingOptions } from './types.js';

/**
 * Picks the next token on the GPU from a model's last-position logits and reads back only its id (4
 * bytes). Holds the sampler's buffers for a loaded model: the id, and the per-token counts that the
 * repetition, frequency and presence penalties need (kept on the GPU, bumped by one dispatch per token).
 */
export class Sampler {
  private readonly out: Tensor;
  private counts: Tensor | undefined;
  /** [ceil(V / 32)] u32: the grammar's allowed tokens for the next draw, written before each constrained step. */
  private mask: Tensor | undefined;
  private masked = false;
  private opts: Required<Pick<SamplingOptions, 'temperature'>> & SamplingOptions = { temperature: 1 };
  private random: () => number = seededRandom();
  private penalized = false;
  /** The sampling recorded once and replayed with new settings and draws (src/gpu/capture.ts). */
  readonly step: CapturedStep;

  constructor(
    private readonly ctx: GpuContext,
    private readonly vocabSize: number,
  ) {
    this.out = ctx.createTensor([1], 'u32', 'sampled id');
    this.step = new CapturedStep(ctx);
  }

  /** Starts a generation: checks the options, seeds the generator, counts the prompt's tokens; `masked`: each draw is constrained by `setMask`. */
  begin(opts: SamplingOptions, promptIds: readonly number[], masked = false): void {
    this.masked = masked;
    if (masked) this.mask ??= this.ctx.createTensor([Math.ceil(this.vocabSize / 32)], 'u32', 'grammar mask');
    const temperature = opts.temperature ?? 1;
    check(temperature >= 0, 'temperature must be >= 0');
    check(opts.topK === undefined || (Number.isInteger(opts.topK) && opts.topK >= 0), 'topK must be an integer >= 0');
    check(opts.topP === undefined || (opts.topP > 0 && opts.topP <= 1), 'topP must be in (0, 1]');
    check(opts.minP === undefined || (opts.minP >= 0 && opts.minP <= 1), 'minP must be in [0, 1]');
    check(opts.repetitionPenalty === undefined || opts.repetitionPenalty > 0, 'repetitionPenalty must be > 0');
    this.opts = { ...opts, temperature };
    this.random = seededRandom(opts.seed);
    this.penalized = (opts.repetitionPenalty ?? 1) !== 1 || (opts.frequencyPenalty ?? 0) !== 0 || (opts.presencePenalty ?? 0) !== 0;
    if (!this.penalized) return;
    this.counts ??= this.ctx.createTensor([this.vocabSize], 'u32', 'token counts');
    const hist = new Uint32Array(this.vocabSize);
    for (const id of promptIds) if (id >= 0 && id < this.vocabSize) hist[id]!++;
    this.ctx.write(this.counts, hist);
  }

  /**
   * The allowed tokens of the next `record` (bit i % 32 of word i / 32): a queue write into the same buffer
   * every step, so the captured sampling replays unchanged. Call it outside a recording, before `record`.
   */
  setMask(bits: Uint32Array): void {
    if (!this.mask || bits.length !== Math.ceil(this.vocabSize / 32))
      throw new InvalidArgumentError(`setMask: need ${Math.ceil(this.vocabSize / 32)} words after begin(..., true)`);
    this.ctx.write(this.mask, bits);
  }

  /** The sampled id on the GPU ([1] u32), for `forward`'s `idFrom`: valid once the last `record` has run. */
  get lastId(): Tensor {
    return this.out;
  }

  /** Records the sampling of `logits` ([1, V] or [V] f32), submits the step and returns the id. */
  next(logits: Tensor): Promise<number> {
    return this.record(logits);
  }

  /**
   * Records the sampling of `logits`, submits the step now and returns a promise of the id: the caller may
   * record and submit the next step (feeding `lastId`) before awaiting it, so the CPU records step t + 1
   * while the GPU runs step t. `paced`: the logits are a decode step's (GpuContext.readPacer).
   */
  record(logits: Tensor, paced = false): Promise<number> {
    const o = this.opts;
    const args: SampleArgs = {
      temperature: o.temperature,
      topK: o.topK,
      topP: o.topP,
      minP: o.minP,
      repetitionPenalty: o.repetitionPenalty,
      frequencyPenalty: o.frequencyPenalty,
      presencePenalty: o.presencePenalty,
      random: this.random(),
      counts: this.penalized ? this.counts : undefined,
      mask: this.masked ? this.mask : undefined,
    };
    // Replayed where the logits and the kind of sampling are those of the step captured; settings and draw rewritten.
    const plan = samplePlan(args, this.vocabSize);
    if (!this.step.replay([logits.buffer, logits.offset, plan.structure, args.counts, args.mask], plan.inputs)) {
      this.step.begin();
      sample(this.ctx, this.ctx.view(logits, [this.vocabSize]), this.out, args);
      // Counted on the GPU from the sampled id, in the same submit as the sampling.
      if (this.penalized) countToken(this.ctx, this.counts!, this.out);
      this.step.end();
    }
    // read() submits before its first await: the step is on the GPU when this returns.
    return this.ctx.read(this.out, 4, paced).then((b) => new Uint32Array(b)[0]!);
  }

  dispose(): void {
    this.ctx.destroyBuffer(this.out.buffer);
    if (this.counts) this.ctx.destroyBuffer(this.counts.buffer);
    if (this.mask) this.ctx.destroyBuffer(this.mask.buffer);
  }
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new InvalidArgumentError(message);
}
