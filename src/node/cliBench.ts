import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors.js';
import { dtypeArg, intArg } from './cliArgs.js';
import { runBench, type BenchReport, type BenchRun } from './bench.js';
import { createNodeEngine } from './nodeEngine.js';

const USAGE = `usage: weblm bench --model <folder|url|file.gguf> [--dtype auto|f32|f16|q8_0|q4_0] [--prompt 512]
                   [--decode 128] [--contexts 128,4096] [--repeat 3] [--temperature 0] [--image FILE] [--json]
  --image FILE   a PNG or JPEG: also time encoding it (vision tower + projector) and the first answer
                 token of an image + question prompt (llava models)`;

/**
 * `weblm bench`: the public Node engine timed as a user runs it (src/node/bench.ts). Prints a table, or
 * with --json one JSON line per run and the report (medians and runs) as the last line.
 */
export async function main(argv: string[]): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      dtype: { type: 'string', default: 'auto' },
      prompt: { type: 'string', default: '512' },
      decode: { type: 'string', default: '128' },
      contexts: { type: 'string', default: '128,4096' },
      repeat: { type: 'string', default: '3' },
      temperature: { type: 'string', default: '0' },
      image: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean' },
    },
  });
  if (a.help) {
    console.log(USAGE);
    return 0;
  }
  if (!a.model) throw new InvalidArgumentError(`--model is required\n${USAGE}`);
  const dtype = dtypeArg(a.dtype);
  const temperature = Number(a.temperature);
  if (!(temperature >= 0)) throw new InvalidArgumentError(`--temperature ${a.temperature} must be a number >= 0`);
  const engine = createNodeEngine();
  try {
    const report = await runBench(engine, {
      model: a.model,
      dtype,
      prompt: intArg(a.prompt!, '--prompt', 1),
      decode: intArg(a.decode!, '--decode', 1),
      contexts: a.contexts!.split(',').map((c) => intArg(c.trim(), '--contexts', 1)),
      repeat: intArg(a.repeat!, '--repeat', 1),
      temperature,
      image: a.image,
      onRun: (run, i) => (a.json ? console.log(JSON.stringify({ run: i, ...run })) : console.error(`run ${i + 1}: ${runLine(run)}`)),
    });
    console.log(a.json ? JSON.stringify(report) : table(report));
    return 0;
  } finally {
    await engine.dispose();
  }
}

const mib = (b: number | null) => (b === null ? '-' : `${Math.round(b / 2 ** 20).toLocaleString('en-US')} MiB`);
const fmt = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 1 });

function runLine(r: BenchRun): string {
  const decode = r.decode.map((d) => `decode@${d.context} ${fmt(d.tps)} tok/s`).join(', ');
  const image = r.image ? `, image encode ${fmt(r.image.encode_ms)} ms (ttft ${fmt(r.image.ttft_ms)} ms)` : '';
  return `load ${fmt(r.load_s)} s, prefill ${fmt(r.prefill.tps)} tok/s (ttft ${fmt(r.prefill.ttft_ms)} ms), ${decode}${image}`;
}

function table(r: BenchReport): string {
  const rows: [string, string][] = [
    ['model', `${r.model} (${r.model_type}, ${r.dtype})`],
    ['adapter', r.adapter],
    ['load', `${fmt(r.load_s)} s`],
    ['weights', mib(r.weights_bytes)],
    ['GPU memory (engine / process)', `${mib(r.gpu_memory_bytes)} / ${mib(r.gpu_process_bytes)}`],
    [`prefill ${r.prefill.tokens} tokens`, `${fmt(r.prefill.tps)} tok/s, time to first token ${fmt(r.prefill.ttft_ms)} ms`],
    ...r.decode.map((d): [string, string] => [`decode ${d.tokens} at context ${d.context}`, `${fmt(d.tps)} tok/s`]),
    ...(r.image
      ? ([
          [`encode one image (${r.image.image_tokens} tokens)`, `${fmt(r.image.encode_ms)} ms`],
          ['image + question', `time to first answer token ${fmt(r.image.ttft_ms)} ms`],
        ] as [string, string][])
      : []),
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return [`medians of ${r.runs.length} runs`, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join('\n');
}
