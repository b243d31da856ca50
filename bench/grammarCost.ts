/**
 * What constrained decoding costs per token: the same model decoding the same number of tokens through the public
 * engine with and without an EBNF grammar (xgrammar's mask computed on the CPU while the GPU runs the next
 * forward, applied in the GPU sampler), alternating, medians. Run on the GPU machine on a random-weight GGUF
 * (`node dist/bench/makeRandomGguf.js --shape qwen2.5-1.5b --type q4_0 --out m.gguf`):
 *
 *   node dist/bench/grammarCost.js --model m.gguf [--tokens 128] [--rounds 3] [--grammar 'root ::= [a-z ]{4000}']
 */
import { parseArgs } from 'node:util';
import type { GenerationStats } from '../src/engine/stats.js';
import type { Engine } from '../src/engine/types.js';
import { createNodeEngine } from '../src/node/nodeEngine.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    tokens: { type: 'string', default: '128' },
    rounds: { type: 'string', default: '3' },
    grammar: { type: 'string', default: 'root ::= [a-z ]{4000}' },
  },
});
if (!a.model) throw new Error('grammarCost: --model FILE.gguf');
const tokens = Number(a.tokens);
const rounds = Number(a.rounds);
const engine = createNodeEngine();
const info = await engine.load(a.model, { maxContext: 512 });
let seed = 1;
// Structured output needs a stop token; the grammar's end (4,000 characters) lies past the tokens decoded, so it never allows it.
const stopId = 0;
const prompt = () => Array.from({ length: 64 }, (_, i) => (i * 7919 + 97 * seed++) % info.vocabSize);

async function run(e: Engine, grammar: string | undefined): Promise<GenerationStats> {
  let stats: GenerationStats | undefined;
  let n = 0;
  for await (const c of e.generate(
    { ids: prompt() },
    { maxTokens: tokens, temperature: 0, ignoreEos: true, ...(grammar ? { grammar, stopTokenIds: [stopId] } : {}) },
  )) {
    n += c.tokenIds.length;
    if (c.stats) stats = c.stats;
  }
  if (!stats) throw new Error('grammarCost: no stats');
  if (grammar && stats.generatedTokens < tokens / 2) throw new Error(`grammarCost: the grammar ended the reply after ${stats.generatedTokens} tokens`);
  return stats;
}

await run(engine, undefined);
await run(engine, a.grammar);
const free: number[] = [];
const constrained: number[] = [];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? [false, true] : [true, false];
  for (const g of order) (g ? constrained : free).push((await run(engine, g ? a.grammar : undefined)).decodeTokensPerSecond);
}
const median = (v: number[]) => [...v].sort((x, y) => x - y)[v.length >> 1]!;
const report = {
  date: new Date().toISOString(),
  model: a.model,
  grammar: a.grammar,
  tokens,
  rounds,
  decode_tps: { free: median(free), constrained: median(constrained) },
  runs: { free, constrained },
  slowdown: 1 - median(constrained) / median(free),
};
console.log(JSON.stringify(report));
await engine.unload();
process.exit(0);
