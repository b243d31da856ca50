import { execFile } from 'node:child_process';
import { InvalidArgumentError } from '../errors.js';
import type { Engine, EngineInfo, GenerationStats } from '../engine/types.js';
import type { LoadDType } from '../models/types.js';

export interface BenchOptions {
  /** A folder, URL or .gguf path, as engine.load takes it. */
  readonly model: string;
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

export interface BenchRun {
  readonly load_s: number;
  readonly prefill: PrefillFigure;
  readonly decode: readonly DecodeFigure[];
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
  const maxContext = Math.max(promptLen, ...contexts.map((c) => c + decodeLen)) + 1;
  const sampling = { temperature: o.temperature ?? 0, ignoreEos: true };
  const runs: BenchRun[] = [];
  let info: EngineInfo | undefined;
  let seed = 1;
  for (let r = 0; r < repeat; r++) {
    await engine.unload();
    const t0 = performance.now();
    info = await engine.load(o.model, { dtype: o.dtype, maxContext });
    const load_s = (performance.now() - t0) / 1000;
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
    const run = { load_s: round(load_s), prefill, decode, gpu_process_bytes: await processGpuBytes() };
    runs.push(run);
    o.onRun?.(run, r);
  }
  const i = info!;
  const { load_s, gpu_process_bytes, prefill, decode } = runMedians(runs, promptLen, decodeLen, contexts);
  return {
    model: o.model,
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

/** One generation from token ids; its stats. Rejects if no prompt token was computed (a reused prefix). */
async function generate(engine: Engine, ids: number[], maxTokens: number, sampling: { temperature: number; ignoreEos: boolean }): Promise<GenerationStats> {
  let stats: GenerationStats | undefined;
  for await (const c of engine.generate({ ids }, { maxTokens, ...sampling })) if (c.stats) stats = c.stats;
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
