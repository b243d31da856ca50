// `weblm bench --image` (src/node/bench.ts, the public Node engine) on random weights of a real vision-language
// model's shape, made in memory as the engine loads them (bench/randomVisionModel.ts): load, prefill, decode, the
// time to encode one image and the time to the first answer token of an image + question prompt.
// --dtype f16 (the default) uploads the f16 weights as made; q8_0 / q4_0 quantize 2B values on the CPU first (minutes).
//   node dist/bench/visionBench.js --shape qwen2-vl-2b --dtype f16 [--image photo.png | --size 640x480] [--prompt 128 --decode 32 --contexts 1024 --repeat 1]
// Without --image it times a test photo of --size (bench/testPhoto.ts). Prints the report as JSON (one line).
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dtypeArg, intArg } from '../src/node/cliArgs.js';
import { runBench } from '../src/node/bench.js';
import { createNodeEngine } from '../src/node/nodeEngine.js';
import { randomVisionFiles, visionShapes } from './randomVisionModel.js';
import { photoSize, testPhotoPng } from './testPhoto.js';

const { values: a } = parseArgs({
  options: {
    shape: { type: 'string' },
    dtype: { type: 'string', default: 'f16' },
    image: { type: 'string' },
    size: { type: 'string', default: '640x480' },
    prompt: { type: 'string', default: '128' },
    decode: { type: 'string', default: '32' },
    contexts: { type: 'string', default: '1024' },
    repeat: { type: 'string', default: '1' },
  },
});
if (!a.shape || !(a.shape in visionShapes)) {
  console.error(
    `usage: node dist/bench/visionBench.js --shape <${Object.keys(visionShapes).join('|')}> [--image FILE.png | --size 640x480] [--dtype f16] [--prompt N] [--decode N] [--contexts 1024] [--repeat 1]`,
  );
  process.exit(2);
}
let image = a.image;
if (image)
  await readFile(image); // fails early on a missing file
else await writeFile((image = join(await mkdtemp(join(tmpdir(), 'weblm-photo-')), 'photo.png')), testPhotoPng(...photoSize(a.size!)));
const engine = createNodeEngine();
try {
  const report = await runBench(engine, {
    model: { files: randomVisionFiles(a.shape) },
    name: `random:${a.shape}`,
    dtype: dtypeArg(a.dtype!),
    prompt: intArg(a.prompt!, '--prompt', 1),
    decode: intArg(a.decode!, '--decode', 1),
    contexts: a.contexts!.split(',').map((c) => intArg(c.trim(), '--contexts', 1)),
    repeat: intArg(a.repeat!, '--repeat', 1),
    temperature: 0,
    image,
    onRun: (run, i) => console.error(`run ${i + 1}: ${JSON.stringify(run)}`),
  });
  console.log(JSON.stringify(report));
} finally {
  await engine.dispose();
}
process.exit(0);
