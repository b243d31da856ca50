// Where a model's load goes: random-weight GGUFs of real shapes (bench/randomGguf.ts; `shape@N` keeps N layers)
// loaded through the public engine in several load configurations, alternating, with per load: wall and CPU
// time, file reads (count, bytes, summed time), queue writes and buffer creations (count, bytes, time in the
// calls), buffer copies (the staging ring's: count, bytes), time waiting at upload checkpoints, and the process's GPU memory (peak during the load and after it,
// nvidia-smi; n/a without). `--profile` adds a CPU profile of one more load (the last model, the first
// config) summarised by function. Writes loads.jsonl and summary.md under --out.
//
//   node dist/bench/loadProfile.js --models qwen2.5-1.5b:q4_0,qwen3-30b-a3b@8:q4_0 --configs baseline,new --reps 3
//        [--out DIR] [--dir /tmp] [--budget-s 80] [--profile] [--max-context 4225]
//
// Configs: new (the defaults), staged (the same, named for comparing with queue: file chunks read straight into
// the staging ring's mapped slots and copied on the GPU, src/gpu/uploadStaging.ts), queue (no staging ring: every
// byte through queue writes, as before it), baseline (no staging ring, no upload pacing, no split writes, no reads
// ahead, no GGUF read blocks: one read, convert and write after another), nopace, nosplit, noahead, noblocks (the
// defaults less one), ahead8 (up to eight reads ahead within loadChunking.readAheadBytes, for chunks not staged).
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalEngine } from '../src/engine/localEngine.js';
import { GpuContext, uploadPacing } from '../src/gpu/context.js';
import { uploadStaging } from '../src/gpu/uploadStaging.js';
import { folderFiles } from '../src/node/folderFiles.js';
import { createNodeGpu } from '../src/node/gpu.js';
import type { ConvertType } from '../src/node/convert.js';
import type { ModelFiles } from '../src/weights/files.js';
import { ggufReadBlocks } from '../src/weights/ggufSource.js';
import { loadChunking } from '../src/weights/loadTensors.js';
import { loadPeaks, sampleGpuMemory, samplesOf } from './gpuMemorySampler.js';
import { writeRandomGGUF } from './randomGguf.js';

const { values: a } = parseArgs({
  options: {
    models: { type: 'string', default: 'qwen2.5-1.5b:q4_0' },
    configs: { type: 'string', default: 'baseline,new' },
    reps: { type: 'string', default: '3' },
    out: { type: 'string', default: 'bench-out/load' },
    dir: { type: 'string', default: '/tmp' },
    'budget-s': { type: 'string', default: '1e9' },
    'max-context': { type: 'string', default: '4225' },
    profile: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (a.help) {
  console.log(`node dist/bench/loadProfile.js --models qwen2.5-1.5b:q4_0,qwen3-30b-a3b@8:q4_0 --configs staged,queue --reps 3
     [--out DIR] [--dir /tmp] [--budget-s 80] [--profile] [--max-context 4225]
configs: new, staged, queue, baseline, nopace, nosplit, noahead, noblocks, ahead8 (bench/README.md)`);
  process.exit(0);
}

const defaults = {
  pacing: uploadPacing.windowBytes,
  split: uploadPacing.maxWriteBytes,
  readAhead: loadChunking.readAhead,
  blocks: ggufReadBlocks.blockBytes,
  stagingSlots: uploadStaging.slots,
};
const configs: Record<string, typeof defaults> = {
  new: defaults,
  staged: defaults,
  queue: { ...defaults, stagingSlots: 0 },
  baseline: { pacing: 0, split: 0, readAhead: 0, blocks: 0, stagingSlots: 0 },
  nosplit: { ...defaults, split: 0 },
  nopace: { ...defaults, pacing: 0 },
  noahead: { ...defaults, readAhead: 0 },
  ahead8: { ...defaults, readAhead: 8 },
  noblocks: { ...defaults, blocks: 0 },
};
const useConfig = (name: string) => {
  const c = configs[name];
  if (!c) throw new Error(`unknown config ${name} (${Object.keys(configs).join(', ')})`);
  uploadPacing.windowBytes = c.pacing;
  uploadPacing.maxWriteBytes = c.split;
  loadChunking.readAhead = c.readAhead;
  ggufReadBlocks.blockBytes = c.blocks;
  uploadStaging.slots = c.stagingSlots;
};

/** Counters of one load, filled by the wrappers below. */
const counters = {
  reads: 0,
  readBytes: 0,
  readMs: 0,
  writes: 0,
  writeBytes: 0,
  writeMs: 0,
  copies: 0,
  copyBytes: 0,
  creates: 0,
  createBytes: 0,
  createMs: 0,
  checkpointMs: 0,
};
const reset = () => (Object.keys(counters) as (keyof typeof counters)[]).forEach((k) => (counters[k] = 0));

/** Bytes of the device's buffers created and not destroyed (weblm's, any label), now and at most since `resetPeak`. */
const buffers = { live: 0, peak: 0 };
const resetPeak = () => (buffers.peak = buffers.live);

/** Times the device's createBuffer and its queue's writeBuffer, counts buffer copies (their prototypes, once). */
let patched = false;
function instrument(ctx: GpuContext): GpuContext {
  if (patched) return ctx;
  patched = true;
  const dev = Object.getPrototypeOf(ctx.device) as GPUDevice;
  const createBuffer = dev.createBuffer;
  const sizes = new WeakMap<GPUBuffer, number>();
  let destroyPatched = false;
  dev.createBuffer = function (this: GPUDevice, d: GPUBufferDescriptor) {
    const t0 = performance.now();
    try {
      const b = createBuffer.call(this, d);
      sizes.set(b, d.size);
      buffers.live += d.size;
      buffers.peak = Math.max(buffers.peak, buffers.live);
      if (!destroyPatched) {
        destroyPatched = true;
        const proto = Object.getPrototypeOf(b) as GPUBuffer;
        const destroy = proto.destroy;
        proto.destroy = function (this: GPUBuffer) {
          buffers.live -= sizes.get(this) ?? 0;
          sizes.delete(this);
          return destroy.call(this);
        };
      }
      return b;
    } finally {
      counters.creates++;
      counters.createBytes += d.size;
      counters.createMs += performance.now() - t0;
    }
  };
  const queue = Object.getPrototypeOf(ctx.device.queue) as GPUQueue;
  const writeBuffer = queue.writeBuffer as (...args: unknown[]) => undefined;
  (queue as { writeBuffer: unknown }).writeBuffer = function (this: GPUQueue, ...args: unknown[]) {
    const t0 = performance.now();
    try {
      return writeBuffer.apply(this, args);
    } finally {
      counters.writes++;
      counters.writeBytes += (args[4] as number | undefined) ?? (args[2] as ArrayBufferView).byteLength;
      counters.writeMs += performance.now() - t0;
    }
  };
  const encoder = Object.getPrototypeOf(ctx.device.createCommandEncoder()) as GPUCommandEncoder;
  const copyBufferToBuffer = encoder.copyBufferToBuffer as (...args: unknown[]) => undefined;
  (encoder as { copyBufferToBuffer: unknown }).copyBufferToBuffer = function (this: GPUCommandEncoder, ...args: unknown[]) {
    counters.copies++;
    counters.copyBytes += args[4] as number;
    return copyBufferToBuffer.apply(this, args);
  };
  const checkpoint = GpuContext.prototype.uploadCheckpoint;
  GpuContext.prototype.uploadCheckpoint = async function (this: GpuContext) {
    const t0 = performance.now();
    try {
      return await checkpoint.call(this);
    } finally {
      counters.checkpointMs += performance.now() - t0;
    }
  };
  return ctx;
}

/** A model folder whose file reads are counted and timed (summed: reads ahead overlap). */
function timedFiles(dir: string): ModelFiles {
  const files = folderFiles(dir);
  return {
    ...files,
    async open(path) {
      const f = await files.open(path);
      const timed = async <T>(length: number, read: Promise<T>): Promise<T> => {
        const t0 = performance.now();
        try {
          return await read;
        } finally {
          counters.reads++;
          counters.readBytes += length;
          counters.readMs += performance.now() - t0;
        }
      };
      return {
        size: f.size,
        read: (offset, length) => timed(length, f.read(offset, length)),
        readInto: (offset, target) => timed(target.byteLength, f.readInto!(offset, target)),
        close: () => f.close!(),
      };
    },
  };
}

const engine = new LocalEngine({ gpu: async () => instrument(await createNodeGpu()) });
const out = a.out!;
await mkdir(out, { recursive: true });
const log = join(out, 'loads.jsonl');
const started = performance.now();
const budget = Number(a['budget-s']) * 1000;
const maxContext = Number(a['max-context']);
const rows: Record<string, unknown>[] = [];
const mib = (b: number) => Math.round(b / 2 ** 20);
const round = (x: number) => Math.round(x * 100) / 100;

async function timedLoad(file: string, config: string) {
  useConfig(config);
  await engine.unload();
  reset();
  // The process with the device open and nothing loaded (the first load opens the device: no figure before it).
  const idleSampler = sampleGpuMemory(100);
  await new Promise((r) => setTimeout(r, 400));
  const idle = samplesOf(idleSampler.stop(), process.pid).at(-1)?.mib ?? null;
  const idleBuffers = buffers.live;
  resetPeak();
  const sampler = sampleGpuMemory(100);
  const cpu0 = process.cpuUsage();
  const start = Date.now();
  const t0 = performance.now();
  const info = await engine.load({ files: timedFiles(dirname(file)), gguf: basename(file) }, { maxContext });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 250)); // a sample after the load
  const mine = samplesOf(sampler.stop(), process.pid);
  const peaks = loadPeaks(mine, [[start, Date.now()]]); // the load and the 250 ms after it
  return {
    config,
    wall_s: round(wall),
    cpu_user_s: round(cpu.user / 1e6),
    cpu_sys_s: round(cpu.system / 1e6),
    reads: counters.reads,
    read_mib: mib(counters.readBytes),
    read_ms: Math.round(counters.readMs),
    writes: counters.writes,
    write_mib: mib(counters.writeBytes),
    write_ms: Math.round(counters.writeMs),
    copies: counters.copies,
    copy_mib: mib(counters.copyBytes),
    creates: counters.creates,
    create_mib: mib(counters.createBytes),
    create_ms: Math.round(counters.createMs),
    checkpoint_wait_ms: Math.round(counters.checkpointMs),
    weights_mib: mib(info.weightBytes),
    weights_and_caches_mib: mib(info.memoryBytes),
    peak_load_mib: peaks.load,
    after_load_mib: mine.length ? mine.at(-1)!.mib : null,
    idle_device_mib: idle,
    idle_buffers_mib: mib(idleBuffers),
    peak_buffers_mib: mib(buffers.peak),
    after_buffers_mib: mib(buffers.live),
  };
}

const models = a.models!.split(',');
const names = a.configs!.split(',');
for (const n of names) if (!configs[n]) throw new Error(`unknown config ${n} (${Object.keys(configs).join(', ')})`);
for (const spec of models) {
  const [shape, type] = spec.split(':') as [string, ConvertType];
  const file = join(a.dir!, `load-${shape}-${type}.gguf`);
  const w0 = performance.now();
  const { bytes } = await writeRandomGGUF(shape, type, file);
  console.error(`${spec}: wrote ${(bytes / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - w0) / 1000).toFixed(1)} s`);
  for (let rep = 0; rep < Number(a.reps); rep++) {
    // Alternate the configs' order, so that none always runs right after the file was written or read.
    const order = rep % 2 === 0 ? names : [...names].reverse();
    for (const config of order) {
      if (performance.now() - started > budget) break;
      const r = { model: spec, rep, ...(await timedLoad(file, config)) };
      rows.push(r);
      await appendFile(log, JSON.stringify(r) + '\n');
      console.error(`  ${spec} ${config} rep ${rep + 1}: ${r.wall_s} s (cpu ${r.cpu_user_s} + ${r.cpu_sys_s} sys), peak ${r.peak_load_mib ?? 'n/a'} MiB`);
    }
  }
  if (a.profile && spec === models.at(-1) && performance.now() - started < budget) {
    useConfig(names[0]!);
    await engine.unload();
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
    await engine.load({ files: timedFiles(dirname(file)), gguf: basename(file) }, { maxContext });
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    await writeFile(join(out, 'profile.txt'), `${spec} ${names[0]}: self time by function\n${summarise(profile)}`);
  }
  await engine.unload();
  await rm(file, { force: true });
}
await engine.dispose();
await writeFile(join(out, 'summary.md'), summary(rows));
console.log(summary(rows));

/** Medians per model and config. */
function summary(rs: Record<string, unknown>[]): string {
  const keys = [
    'wall_s',
    'cpu_user_s',
    'cpu_sys_s',
    'reads',
    'read_ms',
    'writes',
    'write_ms',
    'copies',
    'create_ms',
    'checkpoint_wait_ms',
    'peak_load_mib',
    'after_load_mib',
    'weights_and_caches_mib',
    'idle_device_mib',
    'idle_buffers_mib',
    'peak_buffers_mib',
    'after_buffers_mib',
  ];
  const med = (xs: number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    return s.length ? (s.length % 2 ? s[s.length >> 1]! : (s[(s.length >> 1) - 1]! + s[s.length >> 1]!) / 2) : NaN;
  };
  const lines = [`| model | config | loads | ${keys.join(' | ')} |`, `|${['', '', '', ...keys].map(() => '---').join('|')}|`];
  for (const m of new Set(rs.map((r) => r.model as string)))
    for (const c of new Set(rs.map((r) => r.config as string))) {
      const mine = rs.filter((r) => r.model === m && r.config === c);
      if (!mine.length) continue;
      const vals = keys.map((k) => {
        const xs = mine.map((r) => r[k]).filter((x): x is number => typeof x === 'number');
        return xs.length ? String(round(med(xs))) : 'n/a';
      });
      lines.push(`| ${m} | ${c} | ${mine.length} | ${vals.join(' | ')} |`);
    }
  return lines.join('\n') + '\n';
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self time per function of a CPU profile, the top 30. */
function summarise(p: { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[] }): string {
  const self = new Map<number, number>();
  (p.samples ?? []).forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas?.[i] ?? 0)));
  const byName = new Map<string, number>();
  for (const n of p.nodes) {
    const k = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
    byName.set(k, (byName.get(k) ?? 0) + (self.get(n.id) ?? 0));
  }
  return [...byName]
    .sort((x, y) => y[1] - x[1])
    .slice(0, 30)
    .map(([k, us]) => `${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`)
    .join('\n');
}
