// GPU memory of a process over time, by nvidia-smi (compute apps) every 100 ms: bench/vsLlamacpp.ts and
// bench/loadProfile.ts take the peak during a model's load from it. Where nvidia-smi is missing there are no
// samples (the figures read "n/a").
import { execFile, spawn, type ChildProcess } from 'node:child_process';

export interface GpuMemorySample {
  /** Milliseconds since the sampler started. */
  readonly t: number;
  /** When it came (Unix ms): compared with the load windows benchmark processes report. */
  readonly at: number;
  readonly pid: number;
  readonly mib: number;
}

export interface GpuMemorySampler {
  /** Stops sampling: the rows nvidia-smi gave, each with its time. */
  stop(): GpuMemorySample[];
}

const QUERY = ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'];

function parseRows(text: string, t: number, into: GpuMemorySample[]): void {
  const at = Date.now();
  for (const line of text.split('\n')) {
    const [pid, mib] = line.split(',').map((x) => Number(x.trim()));
    if (line.trim() && Number.isFinite(pid) && Number.isFinite(mib)) into.push({ t, at, pid: pid!, mib: mib! });
  }
}

/**
 * Samples every process's GPU memory every `intervalMs` (nvidia-smi's own loop, -lms; where that exits at
 * once, one query after another) until `stop()`.
 */
export function sampleGpuMemory(intervalMs = 100): GpuMemorySampler {
  const t0 = performance.now();
  const samples: GpuMemorySample[] = [];
  let stopped = false;
  let loop: ChildProcess | undefined;
  let pending = '';
  const poll = () => {
    if (stopped) return;
    const started = performance.now();
    execFile('nvidia-smi', QUERY, { timeout: 5_000 }, (err, stdout) => {
      if (err || stopped) return; // no nvidia-smi: no samples
      parseRows(stdout, started - t0, samples);
      setTimeout(poll, Math.max(0, intervalMs - (performance.now() - started)));
    });
  };
  try {
    loop = spawn('nvidia-smi', [...QUERY, `-lms`, String(intervalMs)], { stdio: ['ignore', 'pipe', 'ignore'] });
    loop.on('error', () => (loop = undefined)); // no nvidia-smi: no samples
    loop.stdout!.on('data', (d: Buffer) => {
      const text = pending + d.toString('utf8');
      const cut = text.lastIndexOf('\n');
      pending = text.slice(cut + 1);
      parseRows(text.slice(0, cut + 1), performance.now() - t0, samples);
    });
    // A nvidia-smi without -lms exits at once with an error: query it in a loop instead.
    loop.on('exit', (code) => {
      if (!stopped && code !== 0 && samples.length === 0) poll();
    });
  } catch {
    loop = undefined;
  }
  return {
    stop() {
      stopped = true;
      loop?.kill();
      return samples;
    },
  };
}

/**
 * A process's samples: those of `pid`, else (a container whose pid namespace hides host pids) those of the
 * one pid listed most often.
 */
export function samplesOf(samples: readonly GpuMemorySample[], pid: number | undefined): GpuMemorySample[] {
  const mine = samples.filter((s) => s.pid === pid);
  if (mine.length || samples.length === 0) return mine;
  const counts = new Map<number, number>();
  for (const s of samples) counts.set(s.pid, (counts.get(s.pid) ?? 0) + 1);
  const most = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  return samples.filter((s) => s.pid === most);
}

/** When a load ran, [start, end] in Unix ms, as src/node/bench.ts and bench/llamacppBench.ts report each run's. */
export type LoadWindow = readonly [number, number];

/**
 * Peak MiB of a process's samples during its loads: those that came within a load's window (or, for a window
 * shorter than the sampling interval, the first one after it); and the peak over all its samples. null where
 * there are none. The benchmarks end the window after an idle pause that follows the load (src/node/bench.ts
 * LOAD_SETTLE_MS), so that the load's last allocations are seen and the warm-up's (pipelines, activation pools)
 * are not.
 */
export function loadPeaks(samples: readonly GpuMemorySample[], windows: readonly LoadWindow[] | undefined): { load: number | null; all: number | null } {
  if (samples.length === 0) return { load: null, all: null };
  const all = Math.max(...samples.map((s) => s.mib));
  if (!windows?.length) return { load: null, all };
  const during: number[] = [];
  for (const [start, end] of windows) {
    const inside = samples.filter((s) => s.at >= start && s.at <= end);
    const next = samples.filter((s) => s.at > end).sort((a, b) => a.at - b.at)[0];
    if (inside.length) during.push(...inside.map((s) => s.mib));
    else if (next) during.push(next.mib);
  }
  return { load: during.length ? Math.max(...during) : null, all };
}
