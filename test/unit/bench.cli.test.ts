import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';
import { loadPeaks } from '../../bench/gpuMemorySampler.js';
import { writeRandomGGUF } from '../../bench/randomGguf.js';
import { renderTable, type VsRecord } from '../../bench/vsTable.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { LOAD_SETTLE_MS } from '../../src/node/bench.js';
import { main as bench } from '../../src/node/cliBench.js';
import { main as run } from '../../src/node/cliRun.js';
import { createNodeEngine } from '../../src/node/nodeEngine.js';
import { cliLines } from '../helpers/cli.js';
import { fixtureDir, fixtureWithTokenizer } from '../helpers/fixtures.js';
import { llavaImagePath } from '../helpers/llava.js';
import { cpuLlama } from '../helpers/llamaCpp.js';

const small = ['--prompt', '12', '--decode', '3', '--contexts', '4,20', '--repeat', '2'];

/** The --json report's shape (SwiftShader's figures mean nothing; the fields and their consistency do). */
function checkReport(report: Record<string, any>, model: string, dtype: string) {
  expect(Object.keys(report).sort()).toEqual(
    [
      'adapter',
      'context_length',
      'decode',
      'dtype',
      'gpu_memory_bytes',
      'gpu_process_bytes',
      'load_s',
      'model',
      'model_type',
      'prefill',
      'runs',
      'weights_bytes',
    ].sort(),
  );
  expect(report.model).toBe(model);
  expect(report.model_type).toBe('qwen2');
  expect(report.dtype).toBe(dtype);
  expect(report.load_s).toBeGreaterThan(0);
  expect(report.weights_bytes).toBeGreaterThan(0);
  expect(report.gpu_memory_bytes).toBeGreaterThan(report.weights_bytes); // plus the KV cache and activations
  expect(report.gpu_process_bytes).toBeNull(); // no nvidia-smi here
  expect(report.context_length).toBeGreaterThanOrEqual(24);
  expect(report.prefill.tokens).toBe(12);
  expect(report.prefill.tps).toBeGreaterThan(0);
  expect(report.prefill.ttft_ms).toBeGreaterThan(0);
  expect(report.decode.map((d: { context: number }) => d.context)).toEqual([4, 20]);
  for (const d of report.decode) {
    expect(d.tokens).toBe(3);
    expect(d.tps).toBeGreaterThan(0);
    expect(d.fill_ttft_ms).toBeGreaterThan(0); // the context-filling prompt's time to first token
  }
  expect(report.runs).toHaveLength(2);
  for (const r of report.runs) {
    expect(r.decode.map((d: { tokens: number }) => d.tokens)).toEqual([3, 3]); // end-of-sequence ignored
    expect(r.prefill.tokens).toBe(12);
    const [start, end] = r.load_window_ms;
    expect(end - start).toBeGreaterThanOrEqual(0);
    // the same load, in Unix ms, and the idle time after it for the memory samplers (its timer may fire late on a
    // busy machine: 67 ms once on CI's two cores)
    const late = (end - start - LOAD_SETTLE_MS) / 1000 - r.load_s;
    expect(late).toBeGreaterThan(-0.01);
    expect(late).toBeLessThan(0.5);
  }
  const tps = report.runs.map((r: { prefill: { tps: number } }) => r.prefill.tps).sort((a: number, b: number) => a - b);
  expect(report.prefill.tps).toBeCloseTo((tps[0] + tps[1]) / 2, 1); // the median of two runs
}

describe('weblm bench', () => {
  it('times a Hugging Face folder and the same model as GGUF through the public engine (--json)', async () => {
    const dir = await fixtureWithTokenizer('qwen2', 'q8_0');
    const folder = await cliLines(bench, ['--model', dir, '--json', ...small], { quiet: true });
    expect(folder).toHaveLength(3); // one line per run, then the report
    checkReport(JSON.parse(folder.at(-1)!), dir, 'f32');
    const gguf = join(dir, 'model.gguf');
    const file = await cliLines(bench, ['--model', gguf, '--json', ...small, '--dtype', 'auto'], { quiet: true });
    checkReport(JSON.parse(file.at(-1)!), gguf, 'q8_0'); // as stored in the file
  });

  it('prints a table without --json', async () => {
    const dir = await fixtureWithTokenizer('qwen2');
    const out = (await cliLines(bench, ['--model', dir, '--prompt', '8', '--decode', '2', '--contexts', '4', '--repeat', '1'], { quiet: true })).join('\n');
    expect(out).toMatch(/medians of 1 runs/);
    expect(out).toMatch(/prefill 8 tokens\s+[\d.,]+ tok\/s, time to first token/);
    expect(out).toMatch(/decode 2 at context 4\s+[\d.,]+ tok\/s/);
  });

  it('rejects bad options with typed errors', async () => {
    await expect(bench(['--prompt', '8'])).rejects.toThrow(/--model is required/);
    await expect(bench(['--model', 'x', '--contexts', '4,0'])).rejects.toThrow(InvalidArgumentError);
    await expect(bench(['--model', 'x', '--dtype', 'q5'])).rejects.toThrow(/--dtype q5 is not one of/);
  });
});

describe('weblm bench --image', () => {
  const tiny = ['--prompt', '8', '--decode', '2', '--contexts', '4'];
  it('times encoding an image and the first answer token of an image + question prompt (llava fixture)', async () => {
    const model = fixtureDir('llava');
    const lines = await cliLines(bench, ['--model', model, '--image', llavaImagePath(), '--json', ...tiny, '--repeat', '2'], { quiet: true });
    expect(lines).toHaveLength(3);
    const report = JSON.parse(lines.at(-1)!);
    expect(report.model_type).toBe('llava');
    expect(Object.keys(report.image).sort()).toEqual(['encode_ms', 'image_tokens', 'ttft_ms']);
    expect(report.image.image_tokens).toBe(16); // (32 / 8)^2 patches, the class token dropped
    // SwiftShader's figures mean nothing; a difference of two TTFTs can even come out below 0 on it.
    expect(Number.isFinite(report.image.encode_ms)).toBe(true);
    expect(report.image.ttft_ms).toBeGreaterThan(0);
    for (const r of report.runs) expect(r.image.image_tokens).toBe(16);
    const ttft = report.runs.map((r: { image: { ttft_ms: number } }) => r.image.ttft_ms).sort((a: number, b: number) => a - b);
    expect(report.image.ttft_ms).toBeCloseTo((ttft[0] + ttft[1]) / 2, 1); // the median of two runs
    expect(report.prefill.tokens).toBe(8); // the text figures as without --image

    const table = (await cliLines(bench, ['--model', model, '--image', llavaImagePath(), ...tiny, '--repeat', '1'], { quiet: true })).join('\n');
    expect(table).toMatch(/encode one image \(16 tokens\)\s+-?[\d.,]+ ms/);
    expect(table).toMatch(/image \+ question\s+time to first answer token [\d.,]+ ms/);
  });

  it('rejects an image for a text model, and a file that is not an image', async () => {
    const dir = await fixtureWithTokenizer('qwen2');
    await expect(bench(['--model', dir, '--image', llavaImagePath(), ...small])).rejects.toThrow(/--image needs a vision model/);
    await expect(bench(['--model', dir, '--image', join(dir, 'config.json'), ...small])).rejects.toThrow(/neither PNG nor JPEG/);
  });
});

describe('weblm run on GGUF', () => {
  it('loads a .gguf path and tokenizes --prompt with the tokenizer in the file', async () => {
    const dir = await fixtureWithTokenizer('qwen2', 'f32');
    const lines = await cliLines(run, ['--model', join(dir, 'model.gguf'), '--prompt', 'hello', '--max-new-tokens', '3'], { quiet: true });
    const summary = JSON.parse(lines.at(-1)!);
    expect(summary.input_ids).toEqual([...'hello'].map((c) => c.charCodeAt(0))); // byte-level ids, no BOS added
    expect(summary.generated_ids).toHaveLength(3);
    expect(summary.model_type).toBe('qwen2');
  });
});

describe('random-weight GGUF of a real shape (bench/randomGguf.ts)', () => {
  it('loads in weblm and in llama.cpp, with the same vocabulary', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'weblm-rand-')), 'tiny-moe.gguf');
    await writeRandomGGUF('tiny-moe', 'q4_0', path);
    const engine = createNodeEngine();
    try {
      const info = await engine.load(path, { maxContext: 64 });
      expect(info.modelType).toBe('qwen3_moe');
      expect(info.dtype).toBe('q4_0'); // the matrices as stored (the router, f32, is not counted)
      let n = 0;
      for await (const c of engine.generate({ ids: [1, 2, 3] }, { maxTokens: 3, temperature: 0, ignoreEos: true })) n += c.tokenIds.length;
      expect(n).toBe(3);
    } finally {
      await engine.dispose();
    }
    const llama = await cpuLlama();
    try {
      const model = await llama.loadModel({ modelPath: path });
      expect(model.tokenize('hello world').length).toBeGreaterThan(0);
      const ctx = await model.createContext({ contextSize: 64, batchSize: 16, threads: 1 });
      const out: number[] = [];
      for await (const t of ctx.getSequence().evaluate([1, 2, 3] as never, { temperature: 0, yieldEogToken: true })) if (out.push(t) === 3) break;
      expect(out).toHaveLength(3);
      await ctx.dispose();
      await model.dispose();
    } finally {
      await llama.dispose();
    }
  });
});

describe('the peak GPU memory of a load (bench/gpuMemorySampler.ts)', () => {
  it('takes the samples inside each load window, or the first after a window too short to hold one', () => {
    const at = (ms: number, mib: number) => ({ t: ms, at: 1000 + ms, pid: 1, mib });
    const samples = [at(0, 100), at(100, 900), at(200, 1000), at(300, 1500), at(400, 1200), at(500, 1300)];
    expect(loadPeaks(samples, [[1000, 1250]])).toEqual({ load: 1000, all: 1500 }); // the warm-up's 1500 after it is not the load's
    expect(loadPeaks(samples, [[1410, 1450]]).load).toBe(1300);
    expect(
      loadPeaks(samples, [
        [1000, 1150],
        [1390, 1450],
      ]).load,
    ).toBe(1200);
    expect(loadPeaks(samples, undefined)).toEqual({ load: null, all: 1500 });
    expect(loadPeaks([], [[0, 1]])).toEqual({ load: null, all: null });
  });
});

describe('the same-run table (bench/vsTable.ts)', () => {
  it('gives medians per engine and weblm / llama.cpp ratios, and lists failed runs', () => {
    const report = (prefill: number, d128: number) => ({
      load_s: 1,
      gpu_process_bytes: 2 ** 30,
      prefill: { tokens: 512, tps: prefill },
      decode: [{ context: 128, tps: d128 }],
    });
    const rec = (engine: 'weblm' | 'llama.cpp', round: number, r: unknown, memory?: VsRecord['memory']): VsRecord => ({
      date: '2026-12-01T00:00:00Z',
      gpu: 'GPU',
      weblm_commit: 'abc',
      shape: 's',
      type: 'q4_0',
      engine,
      round,
      report: r,
      memory,
    });
    const table = renderTable([
      rec('weblm', 0, report(100, 10)),
      rec('llama.cpp', 0, report(200, 20)),
      rec('weblm', 1, report(300, 30)),
      rec('llama.cpp', 1, report(200, 10)),
      rec('weblm', 2, { error: 'boom' }),
    ]);
    // Records without sampled memory (no nvidia-smi, or older records) read n/a.
    expect(table).toContain('| s:q4_0 | 200 / 200 (1.00x) | 20 / 15 (1.33x) | 1024 / 1024 | n/a / n/a | - | 1 / 1 | 2 / 2 |');
    expect(table).toContain('s:q4_0 weblm round 3: boom');
    // With the context-filling prompt's time to first token in the records, its column appears.
    const withTtft = (r: ReturnType<typeof report>, ms: number) => ({ ...r, decode: r.decode.map((d) => ({ ...d, fill_ttft_ms: ms })) });
    const t2 = renderTable([rec('weblm', 0, withTtft(report(100, 10), 50)), rec('llama.cpp', 0, withTtft(report(200, 20), 25))]);
    expect(t2).toContain('TTFT of a 128-token prompt, ms');
    expect(t2).toContain('| 10 / 20 (0.50x) | 50 / 25 (2.00x) |');
    // The peak during load (median of the runs' samples) beside the after-run figure, and weblm's own buffers.
    const mem = (peak: number) => ({ peak_load_mib: peak, peak_mib: peak + 10, samples: 30 });
    const t3 = renderTable([
      rec('weblm', 0, { ...report(100, 10), gpu_memory_bytes: 900 * 2 ** 20 }, mem(1100)),
      rec('llama.cpp', 0, report(200, 20), mem(1000)),
      rec('weblm', 1, { ...report(100, 10), gpu_memory_bytes: 900 * 2 ** 20 }, mem(1300)),
    ]);
    expect(t3).toContain('peak MiB during load');
    expect(t3).toContain('| 1024 / 1024 | 1200 / 1000 | 900 | 1 / 1 |');
  });
});
