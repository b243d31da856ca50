// Writes a random-weight GGUF of a real shape (bench/randomGguf.ts), on the machine that benchmarks it:
//   node dist/bench/makeRandomGguf.js --shape qwen2.5-1.5b --type q4_0 --out /tmp/qwen2.5-1.5b-q4_0.gguf
import { parseArgs } from 'node:util';
import { CONVERT_TYPES, type ConvertType } from '../src/node/convert.js';
import { writeRandomGGUF } from './randomGguf.js';
import { benchShapes } from './shapes.js';

const { values: a } = parseArgs({ options: { shape: { type: 'string' }, type: { type: 'string', default: 'q4_0' }, out: { type: 'string' } } });
if (!a.shape || !a.out) {
  console.error(`usage: node dist/bench/makeRandomGguf.js --shape <${Object.keys(benchShapes).join('|')}> --type <${CONVERT_TYPES.join('|')}> --out FILE`);
  process.exit(2);
}
const t0 = performance.now();
const { tensors, bytes } = await writeRandomGGUF(a.shape, a.type as ConvertType, a.out);
console.log(`wrote ${a.out}: ${tensors} tensors, ${(bytes / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
