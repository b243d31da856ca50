import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, GenerateChunk } from '../../src/engine/types.js';
import type { GpuContext } from '../../src/gpu/context.js';
import { readSafetensorsFile } from '../../src/weights/safetensors.js';
import { fixtureDir, fixtureFiles } from '../helpers/fixtures.js';
import { nodeEngineWithContext } from '../helpers/overrides.js';

async function collect(it: AsyncIterable<GenerateChunk>): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

// The idefics3 fixture through the public engine in Node: an image content part and a question, rendered
// with the fixture's chat template and expanded to the tile layout; greedy ids must equal transformers' (f32).
describe('engine: idefics3 (SmolVLM) with images', () => {
  let engine: Engine;
  let context: () => GpuContext;
  let inputIds: number[];
  let greedyIds: number[];
  let dataUrl: string;

  beforeAll(async () => {
    const t = await readSafetensorsFile(await fixtureFiles('idefics3').open('expected.safetensors'), 'idefics3/expected.safetensors');
    const i32 = (k: string) => Array.from(new Int32Array(t.get(k)!.data.slice().buffer));
    inputIds = i32('input_ids');
    greedyIds = i32('greedy_ids');
    dataUrl = `data:image/png;base64,${(await readFile(join(fixtureDir('idefics3'), 'image.png'))).toString('base64')}`;
    ({ engine, context } = nodeEngineWithContext());
    const info = await engine.load(fixtureDir('idefics3'), { dtype: 'f32', maxContext: 128 });
    expect(info.modelType).toBe('idefics3');
    expect(info.hasChatTemplate).toBe(true);
    expect(info.vision).toMatchObject({ imageSize: 32, tokensPerImage: 4, imageTokenId: 5, imagesEncoded: 0, tiled: true });
  });
  afterAll(async () => engine?.dispose());

  it('content parts (image_url + text) give the fixture prompt and greedy ids; the same image again (resized on the GPU) reuses the KV prefix', async () => {
    const messages = [
      {
        role: 'user' as const,
        content: [
          { type: 'image_url' as const, image_url: { url: dataUrl } },
          { type: 'text' as const, text: 'What is in the image?' },
        ],
      },
    ];
    const chunks = await collect(engine.generate(messages, { temperature: 0, maxTokens: greedyIds.length, ignoreEos: true }));
    expect(chunks.flatMap((c) => c.tokenIds)).toEqual(greedyIds);
    // Again with the first resize on the GPU (threshold lowered): the KV prefix is reused only if the tiles'
    // key (the sha256 of their pixel values) is the same, i.e. the GPU gave the CPU's pixels bit for bit.
    const ctx = context();
    const saved = ctx.kernelOverrides;
    ctx.kernelOverrides = { ...saved, imageResize: { minPixels: 0 } };
    try {
      const r = await engine.chat.completions.create({ messages, max_tokens: 2, temperature: 0 });
      expect(r.usage.prompt_tokens).toBe(inputIds.length);
      expect(r.usage.prompt_tokens_details?.cached_tokens).toBe(inputIds.length - 1);
    } finally {
      ctx.kernelOverrides = saved;
    }
  });
});
