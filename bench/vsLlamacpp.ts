// weblm beside llama.cpp on the same random-weight GGUF files, in one run (bench/vs-llamacpp.sh runs this on
// the NVIDIA machine). Per model: write the GGUF here, then `rounds` rounds alternating the two engines, each
// run in a process of its own (`weblm bench --json` and bench/llamacppBench.ts), after `--warmup-runs` untimed
// runs of each (recorded with warmup: true, left out of the table); every report is appended to
// vs-llamacpp.jsonl, and the table of medians and ratios (vs-llamacpp.md, vs-llamacpp.svg) is written at the end.
// While each run goes, nvidia-smi samples its process's GPU memory every 100 ms (bench/gpuMemorySampler.ts): the
// record's `memory` holds the peak during the load and over the run ("n/a" in the table where nvidia-smi is missing).
//
//   node dist/bench/vsLlamacpp.js --out DIR [--models qwen2.5-1.5b:q4_0,llama-3.2-1b:q4_0] [--rounds 2]
//        [--llama-module .gpu-anchor/node_modules/node-llama-cpp/dist/index.js] [--gpu vulkan]
//   node dist/bench/vsLlamacpp.js --table a.jsonl,b.jsonl --out DIR      (the table again from records)
import { execFile, execFileSync } from 'node:child_process';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ConvertType } from '../src/node/convert.js';
import { loadPeaks, sampleGpuMemory, samplesOf, type LoadWindow } from './gpuMemorySampler.js';
import { writeRandomGGUF } from './randomGguf.js';
import { renderSvg, renderTable, type VsRecord } from './vsTable.js';

const { values: a } = parseArgs({
  options: {
    out: { type: 'string', default: 'bench-out' },
    models: { type: 'string', default: 'qwen2.5-1.5b:q4_0,qwen2.5-1.5b:q8_0,llama-3.2-1b:q4_0,qwen3-30b-a3b:q4_0,deepseek-v2-lite:q4_0' },
    rounds: { type: 'string', default: '2' },
    // Round to start from: a later device command adds rounds to an earlier one's (their jsonl files merged with --table).
    'first-round': { type: 'string', default: '0' },
    // Untimed runs of each engine on each file before the rounds: llama.cpp's first process on a file ran its
    // prefill at a quarter of its later speed (2026-12-02, the Vulkan shader cache filling), whatever its warm-up.
    'warmup-runs': { type: 'string', default: '1' },
    prompt: { type: 'string', default: '512' },
    decode: { type: 'string', default: '128' },
    contexts: { type: 'string', default: '128,4096' },
    'llama-module': { type: 'string', default: resolve('.gpu-anchor/node_modules/node-llama-cpp/dist/index.js') },
    gpu: { type: 'string', default: 'vulkan' },
    dir: { type: 'string', default: '/tmp' },
    table: { type: 'string' },
    // The GPU machine's copy of the tree may carry no usable .git: the caller names the commit.
    commit: { type: 'string' },
  },
});
const out = a.out!;
await mkdir(out, { recursive: true });
const log = join(out, 'vs-llamacpp.jsonl');

if (a.table) {
  const records: VsRecord[] = [];
  for (const f of a.table.split(','))
    for (const l of (await readFile(f, 'utf8')).split('\n')) {
      const rec = l.trim() ? (JSON.parse(l) as VsRecord & { warmup?: boolean }) : undefined;
      if (rec && !rec.warmup) records.push(rec);
    }
  await writeOutputs(records);
  process.exit(0);
}

const gpuName = query('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader']);
const commit = a.commit ?? query('git', ['rev-parse', '--short', 'HEAD']);
const shared = ['--prompt', a.prompt!, '--decode', a.decode!, '--contexts', a.contexts!, '--repeat', '1'];
const records: VsRecord[] = [];

for (const spec of a.models!.split(',')) {
  const [shape, type] = spec.split(':') as [string, ConvertType];
  const file = join(a.dir!, `${shape}-${type}.gguf`);
  const t0 = performance.now();
  const { bytes } = await writeRandomGGUF(shape, type, file);
  console.error(`${spec}: wrote ${(bytes / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const args = (engine: VsRecord['engine']) =>
    engine === 'weblm'
      ? ['dist/src/node/cli.js', 'bench', '--model', file, '--json', ...shared]
      : ['dist/bench/llamacppBench.js', '--model', file, '--module', a['llama-module']!, '--gpu', a.gpu!, ...shared];
  for (let w = 0; w < Number(a['warmup-runs']); w++) {
    for (const engine of ['weblm', 'llama.cpp'] as const) {
      const { report, memory } = await sampledRun(process.execPath, args(engine));
      await appendFile(
        log,
        JSON.stringify({ date: new Date().toISOString(), gpu: gpuName, weblm_commit: commit, shape, type, engine, round: -1, warmup: true, report, memory }) +
          '\n',
      );
    }
  }
  for (let round = Number(a['first-round']); round < Number(a['first-round']) + Number(a.rounds); round++) {
    // Alternate which engine goes first, so that neither always runs on a GPU the other just warmed.
    const order = round % 2 === 0 ? (['weblm', 'llama.cpp'] as const) : (['llama.cpp', 'weblm'] as const);
    for (const engine of order) {
      const { report, memory } = await sampledRun(process.execPath, args(engine));
      const rec: VsRecord = { date: new Date().toISOString(), gpu: gpuName, weblm_commit: commit, shape, type, engine, round, report, memory };
      records.push(rec);
      await appendFile(log, JSON.stringify(rec) + '\n');
      const r = report as { prefill?: { tps: number }; decode?: { context: number; tps: number }[]; error?: string };
      console.error(
        `  ${engine} round ${round + 1}: ${r.error ?? `prefill ${r.prefill?.tps} tok/s, decode ${r.decode?.map((d) => `${d.tps}@${d.context}`).join(' ')}`}, peak during load ${memory.peak_load_mib ?? 'n/a'} MiB`,
      );
    }
  }
  await rm(file, { force: true });
}
await writeOutputs(records);

async function writeOutputs(records: VsRecord[]) {
  const table = renderTable(records);
  await writeFile(join(out, 'vs-llamacpp.md'), table);
  await writeFile(join(out, 'vs-llamacpp.svg'), renderSvg(records));
  console.log(table);
}

function query(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * A benchmark process (lastJsonLine) with its GPU memory sampled while it runs: the peak during its loads
 * (the windows its runs report, `load_window_ms`: src/node/bench.ts's and llamacppBench's) and over the run.
 */
async function sampledRun(cmd: string, args: string[]): Promise<{ report: unknown; memory: NonNullable<VsRecord['memory']> }> {
  const sampler = sampleGpuMemory(100);
  let pid: number | undefined;
  const report = await lastJsonLine(cmd, args, (p) => (pid = p));
  const mine = samplesOf(sampler.stop(), pid);
  const runs = (report as { runs?: { load_window_ms?: LoadWindow }[] }).runs;
  const windows = runs?.map((r) => r.load_window_ms).filter((w): w is LoadWindow => Array.isArray(w) && w.length === 2);
  const peaks = loadPeaks(mine, windows);
  return { report, memory: { peak_load_mib: peaks.load, peak_mib: peaks.all, samples: mine.length } };
}

/** Runs a benchmark process; its last stdout line parsed, or { error } with its stderr's tail. */
function lastJsonLine(cmd: string, args: string[], onPid?: (pid: number | undefined) => void): Promise<unknown> {
  return new Promise((done) => {
    const child = execFile(cmd, args, { maxBuffer: 64 << 20, timeout: 900_000 }, (err, stdout, stderr) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        if (!err) return done(JSON.parse(last));
      } catch {
        /* reported below */
      }
      const tail = stderr
        .split('\n')
        .filter((l) => l && !/XDG|^Warning/.test(l))
        .slice(-6)
        .join(' | ');
      done({ error: `${err?.message.split('\n')[0] ?? 'no JSON'}: ${tail}` });
    });
    onPid?.(child.pid);
  });
}
