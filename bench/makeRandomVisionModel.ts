// Writes a random-weight vision-language model folder of a real shape (bench/randomVisionModel.ts) and, with
// --image, a test photo of --size WxH as PNG, on the machine that benchmarks them:
//   node dist/bench/makeRandomVisionModel.js --shape qwen2-vl-2b --out /tmp/qwen2-vl-2b --image /tmp/photo.png --size 640x480
//   node bin/weblm.js bench --model /tmp/qwen2-vl-2b --image /tmp/photo.png --dtype q8_0 --contexts 1024
// (bench/visionBench.ts runs the same bench with the weights made in memory, no folder.)
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { visionShapes, writeRandomVisionModel } from './randomVisionModel.js';
import { photoSize, testPhotoPng } from './testPhoto.js';

const { values: a } = parseArgs({
  options: { shape: { type: 'string' }, out: { type: 'string' }, image: { type: 'string' }, size: { type: 'string', default: '640x480' } },
});
if (!a.shape || !a.out) {
  console.error(`usage: node dist/bench/makeRandomVisionModel.js --shape <${Object.keys(visionShapes).join('|')}> --out DIR [--image FILE.png --size 640x480]`);
  process.exit(2);
}
const t0 = performance.now();
const { tensors, bytes } = await writeRandomVisionModel(a.shape, a.out);
console.log(`wrote ${a.out}: ${tensors} tensors, ${(bytes / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
if (a.image) {
  const [w, h] = photoSize(a.size!);
  await writeFile(a.image, testPhotoPng(w, h));
  console.log(`wrote ${a.image}: ${w} x ${h}`);
}
