import { execFile } from 'node:child_process';
import { InvalidArgumentError } from '../errors.js';
import type { Engine, EngineInfo, GenerationStats, ModelSource } from '../engine/types.js';
import type { RgbaImage } from '../image/preprocess.js';
import type { LoadDType } from '../models/types.js';
import { decodeImageNode, readImageFile } from './imageDecode.js';

export interface BenchOptions {
  /** A folder, URL or .gguf path, or any source engine.load takes (bench/visionBench.ts: random weights in memory). */
  readonly model: ModelSource;
  /** The model's name in the report (default: model when it is a string). */
  readonly name?: string;
  readonly dtype?: LoadDType;
  /** Tokens of the prompt whose prefill is timed. */
  readonly prompt?: number;
  /** Tokens decoded at each context. */
  readonly decode?: number;
  /** Tokens in the KV cache before decoding starts, one decode figure each. */
  readonly contexts?: readonly number[];
  /** Runs (each loads the model again); the report gives each and their medians. */
  readonly repeat?: number;
  /** 0: greedy. */
  readonly temperature?: number;
  /** An image file (PNG / JPEG): also time its encoding and an image + question prompt (vision models). */
  readonly image?: string;
  /** Called after each run. */
  readonly onRun?: (run: BenchRun, index: number) => void;
}

export interface PrefillFigure {
  readonly tokens: number;
  readonly tps: number;
  readonly ttft_ms: number;
}

export interface DecodeFigure {
  readonly context: number;
  readonly tokens: number;
  readonly tps: number;
  /** Time to the first token of the `context`-token prompt that filled the cache (a long prompt's TTFT). */
  readonly fill_ttft_ms: number;
}

export interface ImageFigure {
  /** Vision tower + projector over one image: the TTFT of a prompt with a new image less that of the same prompt whose image features are cached. */
  readonly encode_ms: number;
  /** Time to the first answer token of the image + question prompt, the image new (encode and prefill). */
  readonly ttft_ms: number;
  /** Tokens of the prompt the image fills. */
  readonly image_tokens: number;
}

/**
 * Idle time after a load, outside load_s, before the warm-up: the process memory nvidia-smi reports trails the
 * buffers made (on the H200 a window ending where the 1.5B's load returned read 598 MiB for its 1,129 MiB of
 * buffers; 250 ms later, 1,258), so the samplers see the loaded state in this pause, before the warm-up adds its own.
 */
export const LOAD_SETTLE_MS = 400;

/** Waits LOAD_SETTLE_MS (after a load, for the memory samplers: BenchRun.load_window_ms). */
export const settle = () => new Promise<void>((done) => setTimeout(done, LOAD_SETTLE_MS));

export interface BenchRun {
  readonly load_s: number;
  /**
   * When the load ran, [start, end] in Unix ms, the end after LOAD_SETTLE_MS of idling: a GPU memory sampler outside
   * the process takes the load's peak over it.
   */
  readonly load_window_ms: readonly [number, number];
  readonly prefill: PrefillFigure;
  readonly decode: readonly DecodeFigure[];
  /** With an image (BenchOptions.image): medians of IMAGE_TRIALS timings in this run. */
  readonly image?: ImageFigure;
  /** This process's GPU memory by nvidia-smi after the run, where nvidia-smi answers. */
  readonly gpu_process_bytes: number | null;
}

/** What `weblm bench --json` prints as its last line: medians over the runs, and the runs. */
export interface BenchReport {
  readonly model: string;
  readonly model_type: string;
  readonly dtype: string;
  readonly adapter: string;
  readonly load_s: number;
  readonly weights_bytes: number;
  /** GPU buffers the engine holds for the model: weights, KV cache and activations. */
  readonly gpu_memory_bytes: number;
  /** The process's GPU memory by nvidia-smi (median), or null where there is none. */
  readonly gpu_process_bytes: number | null;
  readonly context_length: number;
  readonly prefill: PrefillFigure;
  readonly decode: readonly DecodeFigure[];
  readonly image?: ImageFigure;
  readonly runs: readonly BenchRun[];
}

/**
 * The public engine timed as a user runs it, like llama.cpp's llama-bench: per run, load the model, warm
 * up (a prompt of the timed length and 4 tokens), time the prefill of a `prompt`-token prompt (time to first token), and for each context C fill the
 * KV cache with C prompt tokens and time `decode` tokens after it (pipelined decode, the engine's sampler,
 * end-of-sequence ignored). Prompts are random token ids, different in every phase so that no KV prefix is
 * reused.
 */
export async function runBench(engine: Engine, o: BenchOptions): Promise<BenchReport> {
  const name = o.name ?? (typeof o.model === 'string' ? o.model : 'model');
  const promptLen = o.prompt ?? 512;
  const decodeLen = o.decode ?? 128;
  const contexts = o.contexts ?? [128, 4096];
  const repeat = o.repeat ?? 3;
  for (const [n, what] of [
    [promptLen, 'prompt'],
    [decodeLen, 'decode'],
    [repeat, 'repeat'],
  ] as const) {
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`bench: --${what} must be a positive integer, got ${n}`);
  }
  for (const c of contexts) if (!Number.isInteger(c) || c < 1) throw new InvalidArgumentError(`bench: context ${c} is not a positive integer`);
  let maxContext = Math.max(promptLen, ...contexts.map((c) => c + decodeLen)) + 1;
  const sampling = { temperature: o.temperature ?? 0, ignoreEos: true };
  const image = o.image === undefined ? undefined : await decodeImageNode(await readImageFile(o.image));
  const runs: BenchRun[] = [];
  let info: EngineInfo | undefined;
  let seed = 1;
  for (let r = 0; r < repeat; r++) {
    await engine.unload();
    let loadStart = Date.now();
    let t0 = performance.now();
    info = await engine.load(o.model, { dtype: o.dtype, maxContext });
    if (image && !info.vision) throw new InvalidArgumentError(`bench: --image needs a vision model; ${name} (${info.modelType}) takes no images`);
    const imageContext = image && info.vision ? 1 + info.vision.tokensPerImage + QUESTION_TOKENS + 2 : 0;
    if (imageContext > maxContext) {
      // The image prompt is longer than the text ones: a KV cache that holds it.
      maxContext = imageContext;
      await engine.unload();
      loadStart = Date.now();
      t0 = performance.now();
      info = await engine.load(o.model, { dtype: o.dtype, maxContext });
    }
    const load_s = (performance.now() - t0) / 1000;
    await settle();
    const load_window_ms = [loadStart, Date.now()] as const;
    const ids = (n: number) => randomIds(n, info!.vocabSize, seed++);
    // Warm-up at the timed prompt's length: pipelines compiled and buffers touched for its chunks and for decode.
    await generate(engine, ids(promptLen), 4, sampling);
    const p = await generate(engine, ids(promptLen), 1, sampling);
    const prefill = { tokens: p.prefillTokens, tps: round(p.prefillTokensPerSecond), ttft_ms: round(p.timeToFirstTokenMs) };
    const decode: DecodeFigure[] = [];
    for (const context of contexts) {
      const d = await generate(engine, ids(context), decodeLen, sampling);
      decode.push({ context, tokens: d.generatedTokens, tps: round(d.decodeTokensPerSecond), fill_ttft_ms: round(d.timeToFirstTokenMs) });
    }
    const imageFigure = image && (await benchImage(engine, info, image, () => seed++, sampling));
    const run = {
      load_s: round(load_s),
      load_window_ms,
      prefill,
      decode,
      ...(imageFigure ? { image: imageFigure } : {}),
      gpu_process_bytes: await processGpuBytes(),
    };
    runs.push(run);
    o.onRun?.(run, r);
  }
  const i = info!;
  const { load_s, gpu_process_bytes, prefill, decode } = runMedians(runs, promptLen, decodeLen, contexts);
  return {
    model: name,
    model_type: i.modelType,
    dtype: i.dtype,
    adapter: i.adapter.description || i.adapter.vendor,
    load_s,
    weights_bytes: i.weightBytes,
    gpu_memory_bytes: i.memoryBytes,
    gpu_process_bytes,
    context_length: i.contextLength,
    prefill,
    decode,
    ...(image ? { image: imageMedians(runs) } : {}),
    runs,
  };
}

/** The medians over runs of every per-run figure (also llama.cpp's, bench/llamacppBench.ts). */
export function runMedians(runs: readonly BenchRun[], promptLen: number, decodeLen: number, contexts: readonly number[]) {
  const procs = runs.map((r) => r.gpu_process_bytes).filter((b): b is number => b !== null);
  return {
    load_s: median(runs.map((r) => r.load_s)),
    gpu_process_bytes: procs.length ? median(procs) : null,
    prefill: { tokens: promptLen, tps: median(runs.map((r) => r.prefill.tps)), ttft_ms: median(runs.map((r) => r.prefill.ttft_ms)) },
    decode: contexts.map((context, k) => ({
      context,
      tokens: decodeLen,
      tps: median(runs.map((r) => r.decode[k]!.tps)),
      fill_ttft_ms: median(runs.map((r) => r.decode[k]!.fill_ttft_ms)),
    })),
  };
}

/** Image timings per run: each the median of this many. */
export const IMAGE_TRIALS = 3;
/** Tokens of the question after the image. */
const QUESTION_TOKENS = 16;

/**
 * The image timings of one run. Each trial paints a band of the image (its features are not cached)
 * and runs `[t, image, question]` twice: first with the new image (TTFT = encode + prefill), then with
 * another first token t (no KV prefix reused, the features taken from the model's cache: prefill only).
 * encode_ms is the difference; the engine's imagesEncoded must have grown by one and then by none.
 */
async function benchImage(
  engine: Engine,
  info: EngineInfo,
  image: RgbaImage,
  nextSeed: () => number,
  sampling: { temperature: number; ignoreEos: boolean },
): Promise<ImageFigure> {
  const { imageTokenId } = info.vision!;
  const textIds = (n: number) => randomIds(n, info.vocabSize, nextSeed()).map((id) => (id === imageTokenId ? (id + 1) % info.vocabSize : id));
  const question = textIds(QUESTION_TOKENS);
  const encoded = async () => (await engine.info())?.vision?.imagesEncoded ?? 0;
  // A band across the middle (inside any center crop, rows enough to survive a downscale) in a gray of its own.
  const variant = (k: number): ImageData => {
    const data = new Uint8ClampedArray(image.data);
    if (k >= 0) {
      const band = Math.ceil(image.height / 16);
      const top = Math.floor((image.height - band) / 2);
      data.fill(40 + 50 * k, top * image.width * 4, (top + band) * image.width * 4);
    }
    return { width: image.width, height: image.height, data } as ImageData;
  };
  const prompt = (first: number[], img: ImageData) => ({ ids: [...first, imageTokenId, ...question], images: [img] });
  // Warm-up: the vision pipelines compiled, and a prompt of this length prefilled once.
  await generate(engine, prompt(textIds(1), variant(-1)), 2, sampling);
  const encodeMs: number[] = [];
  const ttftMs: number[] = [];
  let imageTokens = 0;
  for (let k = 0; k < IMAGE_TRIALS; k++) {
    const img = variant(k);
    const before = await encoded();
    const fresh = await generate(engine, prompt(textIds(1), img), 1, sampling);
    const mid = await encoded();
    const cached = await generate(engine, prompt(textIds(1), img), 1, sampling);
    const after = await encoded();
    if (mid - before !== 1 || after !== mid) {
      throw new Error(`bench: the image was encoded ${mid - before} times with new pixels and ${after - mid} with cached ones (expected 1 and 0)`);
    }
    ttftMs.push(fresh.timeToFirstTokenMs);
    imageTokens = fresh.prefillTokens - 1 - QUESTION_TOKENS; // the one image token as the engine expanded it (tiles, smart_resize)
    encodeMs.push(fresh.timeToFirstTokenMs - cached.timeToFirstTokenMs);
  }
  return { encode_ms: median(encodeMs.map(round)), ttft_ms: median(ttftMs.map(round)), image_tokens: imageTokens };
}

function imageMedians(runs: readonly BenchRun[]): ImageFigure {
  const figures = runs.map((r) => r.image!);
  return {
    encode_ms: median(figures.map((f) => f.encode_ms)),
    ttft_ms: median(figures.map((f) => f.ttft_ms)),
    image_tokens: figures[0]!.image_tokens,
  };
}

/** One generation from token ids; its stats. Rejects if no prompt token was computed (a reused prefix). */
async function generate(
  engine: Engine,
  input: number[] | { ids: number[]; images: ImageData[] },
  maxTokens: number,
  sampling: { temperature: number; ignoreEos: boolean },
): Promise<GenerationStats> {
  let stats: GenerationStats | undefined;
  for await (const c of engine.generate(Array.isArray(input) ? { ids: input } : input, { maxTokens, ...sampling })) if (c.stats) stats = c.stats;
  if (!stats) throw new Error('bench: the generation ended without stats');
  if (stats.cachedPromptTokens > 0) throw new Error(`bench: ${stats.cachedPromptTokens} prompt tokens came from the KV cache`);
  return stats;
}

/** n token ids from a seeded generator (xorshift32), the first one different per seed. */
export function randomIds(n: number, vocab: number, seed: number): number[] {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out.push(s % vocab);
  }
  out[0] = seed % vocab;
  return out;
}

/**
 * GPU memory of this process by nvidia-smi (compute apps), or null where nvidia-smi is missing or does not
 * list this process. Inside a container whose pid namespace hides host pids, the only process listed counts.
 */
export function processGpuBytes(): Promise<number | null> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'], { timeout: 10_000 }, (err, stdout) => {
      if (err) return resolve(null);
      const rows = stdout
        .trim()
        .split('\n')
        .map((l) => l.split(',').map((x) => Number(x.trim())))
        .filter((r) => r.length === 2 && r.every(Number.isFinite));
      const mine = rows.find(([pid]) => pid === process.pid) ?? (rows.length === 1 ? rows[0] : undefined);
      resolve(mine ? mine[1]! * 1024 * 1024 : null);
    });
  });
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : round((s[m - 1]! + s[m]!) / 2);
}

const round = (x: number) => Math.round(x * 100) / 100;
