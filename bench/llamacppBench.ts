// llama.cpp timed on a GGUF file the way `weblm bench` times weblm (src/node/bench.ts), through node-llama-cpp,
// so that bench/vs-llamacpp.sh compares the two on the same file in one run. Prints the same JSON report.
//
//   node dist/bench/llamacppBench.js --model file.gguf [--gpu vulkan|false] [--prompt 512] [--decode 128]
//        [--contexts 128,4096] [--repeat 1] [--module path/to/node-llama-cpp/dist/index.js]
import { parseArgs } from 'node:util';
import { openModelSource } from '../src/engine/modelSource.js';
import { openModel } from '../src/engine/openModel.js';
import { processGpuBytes, randomIds, runMedians, settle, type BenchRun, type DecodeFigure } from '../src/node/bench.js';
import { openNodeSource } from '../src/node/nodeEngine.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    gpu: { type: 'string', default: 'vulkan' },
    prompt: { type: 'string', default: '512' },
    decode: { type: 'string', default: '128' },
    contexts: { type: 'string', default: '128,4096' },
    repeat: { type: 'string', default: '1' },
    batch: { type: 'string', default: '512' },
    module: { type: 'string', default: 'node-llama-cpp' },
  },
});
if (!a.model) {
  console.error('usage: node dist/bench/llamacppBench.js --model file.gguf [--gpu vulkan|false] [--module node-llama-cpp]');
  process.exit(2);
}
const promptLen = Number(a.prompt);
const decodeLen = Number(a.decode);
const contexts = a.contexts!.split(',').map(Number);
const batchSize = Number(a.batch);
const contextSize = Math.max(promptLen, ...contexts.map((c) => c + decodeLen)) + 1;

type Token = number & { __token: never };
const round = (x: number) => Math.round(x * 100) / 100;
// The vocabulary as weblm reads the file, so both engines draw prompt ids from the same range.
const { files, gguf } = await openModelSource(a.model, openNodeSource);
const vocab = (await openModel(files, gguf)).config.vocabSize;
const nlc = (await import(a.module!)) as typeof import('node-llama-cpp');
const llama = await nlc.getLlama({ gpu: a.gpu === 'false' ? false : (a.gpu as 'vulkan'), build: 'never', logLevel: nlc.LlamaLogLevel.error, logger: () => {} });

let seed = 1;
const runs: BenchRun[] = [];
for (let r = 0; r < Number(a.repeat); r++) {
  const loadStart = Date.now();
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: a.model, gpuLayers: 'max' });
  const context = await model.createContext({ contextSize, batchSize, sequences: 1 });
  const load_s = (performance.now() - t0) / 1000;
  await settle(); // as weblm bench: the load's memory sampled before the warm-up adds its own
  const load_window_ms = [loadStart, Date.now()] as const;
  const seq = context.getSequence();
  const ids = (n: number) => randomIds(n, vocab, seed++) as Token[];
  /** Milliseconds to the first token of `prompt`, and decode tokens/s over the `n` tokens after it. */
  const generate = async (prompt: Token[], n: number) => {
    await seq.clearHistory();
    const start = performance.now();
    let first = 0;
    let count = 0;
    for await (const _ of seq.evaluate(prompt as never, { temperature: 0, yieldEogToken: true })) {
      if (count++ === 0) first = performance.now();
      if (count === n) break;
    }
    const end = performance.now();
    return { ttft: first - start, tps: count > 1 ? ((count - 1) * 1000) / (end - first) : 0, count };
  };
  await generate(ids(promptLen), 4); // warm-up, as weblm bench: shaders for this batch size compiled (a cold first prefill ran 40 tok/s)
  const p = await generate(ids(promptLen), 1);
  const decode: DecodeFigure[] = [];
  for (const c of contexts) {
    const d = await generate(ids(c), decodeLen);
    decode.push({ context: c, tokens: d.count, tps: round(d.tps), fill_ttft_ms: round(d.ttft) });
  }
  const run = {
    load_s: round(load_s),
    load_window_ms,
    prefill: { tokens: promptLen, tps: round((promptLen * 1000) / p.ttft), ttft_ms: round(p.ttft) },
    decode,
    gpu_process_bytes: await processGpuBytes(),
  };
  console.log(JSON.stringify({ run: r, ...run }));
  runs.push(run);
  await context.dispose();
  await model.dispose();
}
await llama.dispose();

console.log(
  JSON.stringify({
    engine: 'llama.cpp',
    version:
      (await import(a.module!.replace(/dist\/index\.js$/, 'package.json'), { with: { type: 'json' } }).catch(() => ({ default: {} }))).default.version ?? null,
    model: a.model,
    gpu: a.gpu,
    context_size: contextSize,
    batch_size: batchSize,
    ...runMedians(runs, promptLen, decodeLen, contexts),
    runs,
  }),
);
