import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Engine, GenerateChunk } from '../../src/engine/types.js';
import type { GpuContext } from '../../src/gpu/context.js';
import { main } from '../../src/node/cliRun.js';
import { readSafetensorsFile } from '../../src/weights/safetensors.js';
import { fixtureDir, fixtureFiles } from '../helpers/fixtures.js';
import { nodeEngineWithContext } from '../helpers/overrides.js';
import { maxAbsDiff } from '../helpers/random.js';

async function collect(it: AsyncIterable<GenerateChunk>): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

async function expectedOf() {
  const t = await readSafetensorsFile(await fixtureFiles('qwen2_vl').open('expected.safetensors'), 'qwen2_vl/expected.safetensors');
  const i32 = (k: string) => Array.from(new Int32Array(t.get(k)!.data.slice().buffer));
  return { inputIds: i32('input_ids'), greedyIds: i32('greedy_ids'), logits: new Float32Array(t.get('logits')!.data.slice().buffer) };
}

const image = () => join(fixtureDir('qwen2_vl'), 'image.png');

// The qwen2_vl fixture through the public engine and `weblm run`: an image and a question rendered with the
// fixture's chat template, <|image_pad|> expanded to the image's merged patches; greedy ids as transformers' (f32).
describe('engine and weblm run: qwen2_vl (Qwen2-VL) with images', () => {
  let engine: Engine;
  let context: () => GpuContext;
  let exp: Awaited<ReturnType<typeof expectedOf>>;

  beforeAll(async () => {
    exp = await expectedOf();
    ({ engine, context } = nodeEngineWithContext());
    const info = await engine.load(fixtureDir('qwen2_vl'), { dtype: 'f32', maxContext: 96 });
    expect(info.modelType).toBe('qwen2_vl');
    expect(info.vision).toMatchObject({ imageTokenId: 6, imagesEncoded: 0, variable: true });
  });
  afterAll(async () => engine?.dispose());

  it('content parts (image_url + text) give the fixture prompt and greedy ids; the same image again (resized on the GPU) reuses the KV prefix and the features', async () => {
    const url = `data:image/png;base64,${(await readFile(image())).toString('base64')}`;
    const messages = [
      {
        role: 'user' as const,
        content: [
          { type: 'image_url' as const, image_url: { url } },
          { type: 'text' as const, text: 'What is in the image?' },
        ],
      },
    ];
    const chunks = await collect(engine.generate(messages, { temperature: 0, maxTokens: exp.greedyIds.length, ignoreEos: true }));
    expect(chunks.flatMap((c) => c.tokenIds)).toEqual(exp.greedyIds);
    // Again with the resize on the GPU (threshold lowered): the KV prefix and the features are reused only if the
    // image's key (the sha256 of its pixel values) is the same, i.e. the GPU gave the CPU's pixels bit for bit.
    const ctx = context();
    const saved = ctx.kernelOverrides;
    ctx.kernelOverrides = { ...saved, imageResize: { minPixels: 0 } };
    try {
      const r = await engine.chat.completions.create({ messages, max_tokens: 2, temperature: 0 });
      expect(r.usage.prompt_tokens).toBe(exp.inputIds.length);
      expect(r.usage.prompt_tokens_details?.cached_tokens).toBe(exp.inputIds.length - 1);
    } finally {
      ctx.kernelOverrides = saved;
    }
    expect((await engine.info())?.vision?.imagesEncoded).toBe(1);
  });

  it('weblm run --prompt --image: the prompt, the logits at every position and the greedy ids of transformers', async () => {
    const dump = join(await mkdtemp(join(tmpdir(), 'weblm-qwen2vl-')), 'logits.bin');
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((s: string) => void lines.push(s));
    const args = ['--model', fixtureDir('qwen2_vl'), '--prompt', 'What is in the image?', '--image', image()];
    try {
      expect(await main([...args, '--max-new-tokens', String(exp.greedyIds.length), '--dtype', 'f32', '--dump-logits', dump])).toBe(0);
    } finally {
      log.mockRestore();
    }
    const summary = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(summary.model_type).toBe('qwen2_vl');
    expect(summary.input_ids).toEqual(exp.inputIds);
    expect(summary.generated_ids).toEqual(exp.greedyIds);
    const bytes = await readFile(dump);
    expect(maxAbsDiff(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), exp.logits)).toBeLessThan(1e-3);
  });
});
