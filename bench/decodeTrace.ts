/**
 * Where a decode's time goes through the public engine, token by token: loads a GGUF as `weblm bench` does,
 * then for each context fills the cache with that many random tokens and decodes `--decode` tokens, taking the
 * time each token reaches the caller. Prints per context: tokens/s as bench computes it, the median and the
 * slowest intervals, the time in intervals over twice the median, and how many decode steps were recorded and
 * replayed (src/gpu/capture.ts) inside the timed tokens.
 *
 *   node dist/bench/decodeTrace.js --model file.gguf [--decode 128] [--contexts 128,4096,128,4096] [--out trace.json]
 */
import { writeFileSync } from 'node:fs';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { CapturedStep } from '../src/gpu/capture.js';
import { randomIds } from '../src/node/bench.js';
import { createNodeEngine } from '../src/node/nodeEngine.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    decode: { type: 'string', default: '128' },
    contexts: { type: 'string', default: '128,4096,128,4096' },
    out: { type: 'string' },
    /** Run a full garbage collection before each timed generation (node --expose-gc): whether the stalls are collection debt. */
    gc: { type: 'boolean', default: false },
  },
});
if (!a.model) throw new Error('usage: node dist/bench/decodeTrace.js --model file.gguf [--decode 128] [--contexts 128,4096]');
const decodeLen = Number(a.decode);
const contexts = a.contexts!.split(',').map(Number);
const engine = createNodeEngine();
const info = await engine.load(a.model, { maxContext: Math.max(512, ...contexts) + decodeLen + 1 });
// The loaded model's decode recording: private to the engine, read here for its counters only.
const step = (engine as unknown as { loaded?: { model?: { decodeStep?: CapturedStep } } }).loaded?.model?.decodeStep;
const sampling = { temperature: 0, ignoreEos: true };
// Garbage collections (start, duration, kind) as V8 reports them: a pause inside the timed tokens shows here.
const gcs: PerformanceEntry[] = [];
new PerformanceObserver((list) => gcs.push(...list.getEntries())).observe({ entryTypes: ['gc'] });
const GC_KIND: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weak', 16: 'minor-ms' };
let seed = 1;

// The engine's context: private, read here for its counters only (bind groups cached, pooled buffers made).
const ctx = (await (engine as unknown as { ctx: Promise<unknown> }).ctx) as { bindGroups: Map<string, unknown>; pool: { liveBuffers: number } };
const forceGc = (globalThis as { gc?: () => void }).gc;
if (a.gc && !forceGc) throw new Error('--gc needs node --expose-gc');

async function timed(context: number) {
  if (a.gc) forceGc!();
  const t: number[] = [];
  const before = { recorded: step?.recorded ?? 0, replayed: step?.replayed ?? 0 };
  let stats: { decodeTokensPerSecond: number; timeToFirstTokenMs: number } | undefined;
  for await (const c of engine.generate({ ids: randomIds(context, info.vocabSize, seed++) }, { maxTokens: decodeLen, ...sampling })) {
    if (c.tokenIds.length) t.push(performance.now());
    if (c.stats) stats = c.stats;
  }
  const gaps = t.slice(1).map((x, i) => x - t[i]!);
  const sorted = [...gaps].sort((x, y) => x - y);
  const med = sorted[sorted.length >> 1] ?? 0;
  const slow = gaps.filter((g) => g > 2 * med);
  await new Promise((r) => setImmediate(r)); // the observer's entries for this run delivered
  const inside = gcs.filter((g) => g.startTime + g.duration >= t[0]! && g.startTime <= t.at(-1)!);
  const gcMs = (kind: number) =>
    +inside
      .filter((g) => (g as unknown as { detail: { kind: number } }).detail.kind === kind)
      .reduce((s, g) => s + g.duration, 0)
      .toFixed(1);
  return {
    context,
    tps: Math.round(stats?.decodeTokensPerSecond ?? 0),
    ttft_ms: Math.round(stats?.timeToFirstTokenMs ?? 0),
    median_ms: +med.toFixed(3),
    p90_ms: +(sorted[Math.floor(sorted.length * 0.9)] ?? 0).toFixed(3),
    max_ms: +(sorted.at(-1) ?? 0).toFixed(3),
    slow: slow.length,
    slow_ms: +slow.reduce((s, g) => s + g, 0).toFixed(1),
    slow_at: gaps.flatMap((g, i) => (g > 2 * med ? [i + 1] : [])).slice(0, 12),
    gc: Object.fromEntries(
      Object.entries(GC_KIND)
        .map(([k, name]) => [name, gcMs(Number(k))])
        .filter(([, ms]) => ms),
    ),
    gc_longest: inside
      .map((g) => ({
        at_ms: +(g.startTime - t[0]!).toFixed(1),
        ms: +g.duration.toFixed(1),
        kind: GC_KIND[(g as unknown as { detail: { kind: number } }).detail.kind],
      }))
      .sort((x, y) => y.ms - x.ms)
      .slice(0, 3),
    recorded: (step?.recorded ?? 0) - before.recorded,
    replayed: (step?.replayed ?? 0) - before.replayed,
    bind_groups: ctx.bindGroups.size,
    pooled_buffers: ctx.pool.liveBuffers,
    heap_mib: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    gaps_ms: gaps.map((g) => +g.toFixed(3)),
  };
}

await timed(512); // warm-up, as bench
const results = [];
for (const c of contexts) {
  const r = await timed(c);
  results.push(r);
  const { gaps_ms: _, ...shown } = r;
  console.log(JSON.stringify(shown));
}
if (a.out) writeFileSync(a.out, JSON.stringify({ model: a.model, results }, null, 1));
await engine.unload();
