import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, Engine, GenerateChunk } from '../../src/engine/types.js';
import { InvalidArgumentError, InvalidImageError } from '../../src/errors.js';
import type { GpuContext } from '../../src/gpu/context.js';
import { createNodeEngine } from '../../src/node/nodeEngine.js';
import { IMAGE_TOKEN_ID } from '../e2e/pages/llavaTokenizer.js';
import { fixtureDir } from '../helpers/fixtures.js';
import { llavaExpected, llavaImagePath, llavaWithTokenizer, type LlavaExpected } from '../helpers/llava.js';
import { nodeEngineWithContext } from '../helpers/overrides.js';

async function collect(it: AsyncIterable<GenerateChunk>): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

// The llava fixture through the public engine in Node (Dawn, SwiftShader): images as content parts and as
// { ids, images }; greedy ids must equal transformers' (f32); the vision tower runs once per new image.
describe('engine: llava with images', () => {
  let engine: Engine;
  let context: () => GpuContext;
  let exp: LlavaExpected;
  let png: Uint8Array;
  let dataUrl: string;

  beforeAll(async () => {
    exp = await llavaExpected();
    png = new Uint8Array(await readFile(llavaImagePath()));
    dataUrl = `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
    ({ engine, context } = nodeEngineWithContext());
    const info = await engine.load(await llavaWithTokenizer(), { dtype: 'f32', maxContext: 256 });
    expect(info.modelType).toBe('llava');
    expect(info.vision).toMatchObject({ imageSize: 32, tokensPerImage: 16, imagesEncoded: 0 });
    expect(info.hasChatTemplate).toBe(true); // chat_template.json
  });
  afterAll(async () => engine?.dispose());

  it('reproduces the fixture greedy ids from { ids, images: [Blob] }, and with one image token expanded', async () => {
    const blob = new Blob([png as BlobPart], { type: 'image/png' });
    const chunks = await collect(engine.generate({ ids: exp.inputIds, images: [blob] }, { temperature: 0, maxTokens: exp.greedyIds.length, ignoreEos: true }));
    expect(chunks.flatMap((c) => c.tokenIds)).toEqual(exp.greedyIds);
    const first = exp.inputIds.indexOf(IMAGE_TOKEN_ID);
    const one = [...exp.inputIds.slice(0, first), IMAGE_TOKEN_ID, ...exp.inputIds.slice(first + 16)];
    const again = await collect(engine.generate({ ids: one, images: [png] }, { temperature: 0, maxTokens: 4, ignoreEos: true }));
    expect(again.flatMap((c) => c.tokenIds)).toEqual(exp.greedyIds.slice(0, 4));
    expect(again.at(-1)!.stats!.cachedPromptTokens).toBe(exp.inputIds.length - 1); // same ids, same image: the KV prefix
  });

  it('resizes on the GPU where the image is large (threshold lowered): bit-identical pixel_values (same key, KV prefix reused)', async () => {
    const ctx = context();
    const saved = ctx.kernelOverrides;
    try {
      const first0 = exp.inputIds.indexOf(IMAGE_TOKEN_ID);
      const cpu = [...exp.inputIds.slice(0, first0), IMAGE_TOKEN_ID, ...exp.inputIds.slice(first0 + 16)];
      await collect(engine.generate({ ids: cpu, images: [png] }, { temperature: 0, maxTokens: 1 })); // CPU resize
      ctx.kernelOverrides = { ...saved, imageResize: { minPixels: 0 } };
      // The prompt of the test before: its KV prefix is reused only if the image's key (the sha256 of its
      // pixel_values) is the same, i.e. the GPU resize gave the CPU's pixels bit for bit.
      const first = exp.inputIds.indexOf(IMAGE_TOKEN_ID);
      const ids = [...exp.inputIds.slice(0, first), IMAGE_TOKEN_ID, ...exp.inputIds.slice(first + 16)];
      const encoded = (await engine.info())!.vision!.imagesEncoded;
      const chunks = await collect(engine.generate({ ids, images: [png] }, { temperature: 0, maxTokens: 4, ignoreEos: true }));
      expect(chunks.flatMap((c) => c.tokenIds)).toEqual(exp.greedyIds.slice(0, 4));
      expect(chunks.at(-1)!.stats!.cachedPromptTokens).toBe(exp.inputIds.length - 1);
      expect((await engine.info())!.vision!.imagesEncoded).toBe(encoded);
    } finally {
      ctx.kernelOverrides = saved;
    }
  });

  it('chat.completions with content parts: image_url (data URL) + text; a follow-up reuses the cache and encodes nothing', async () => {
    const before = (await engine.info())!.vision!.imagesEncoded;
    const user: ChatMessage = {
      role: 'user',
      content: [
        { type: 'image_url', image_url: { url: dataUrl } },
        { type: 'text', text: 'What is it?' },
      ],
    };
    const r1 = await engine.chat.completions.create({ messages: [user], max_tokens: 5, temperature: 0 });
    // "USER: " + <image> x 16 + "\nWhat is it? ASSISTANT:" in the byte-level tokenizer.
    expect(r1.usage.prompt_tokens).toBe('USER: '.length + 16 + '\nWhat is it? ASSISTANT:'.length);
    const encoded = (await engine.info())!.vision!.imagesEncoded;
    expect(encoded).toBe(before); // the features of this image (the test before) are still on the GPU
    const history: ChatMessage[] = [user, { role: 'assistant', content: r1.choices[0]!.message.content }, { role: 'user', content: 'And now?' }];
    const stream = await engine.chat.completions.create({
      messages: history,
      max_tokens: 3,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage;
    for await (const c of stream) if (c.usage) usage = c.usage;
    expect(usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThan('USER: '.length + 16);
    expect((await engine.info())!.vision!.imagesEncoded).toBe(encoded); // the image's tokens came from the KV cache
  });

  it('the same image as { type: image, image: Blob } answers as the data URL did; another image is encoded', async () => {
    const ask = async (content: ChatMessage['content']) =>
      (await engine.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 4, temperature: 0 })).choices[0]!.message.content;
    const a = await ask([
      { type: 'image_url', image_url: { url: dataUrl } },
      { type: 'text', text: 'Q' },
    ]);
    const b = await ask([
      { type: 'image', image: new Blob([png as BlobPart]) },
      { type: 'text', text: 'Q' },
    ]);
    expect(b).toBe(a);
    // In Node an image_url may be a file path or a file: URL.
    expect(
      await ask([
        { type: 'image_url', image_url: { url: llavaImagePath() } },
        { type: 'text', text: 'Q' },
      ]),
    ).toBe(a);
    expect(
      await ask([
        { type: 'image_url', image_url: { url: pathToFileURL(llavaImagePath()).href } },
        { type: 'text', text: 'Q' },
      ]),
    ).toBe(a);
    const n = (await engine.info())!.vision!.imagesEncoded;
    // A different image (the fixture's flipped) with the same token ids is not served from the cache.
    const { PNG } = await import('pngjs');
    const img = PNG.sync.read(Buffer.from(png));
    const flipped = new PNG({ width: img.width, height: img.height });
    for (let y = 0; y < img.height; y++) img.data.copy(flipped.data, y * img.width * 4, (img.height - 1 - y) * img.width * 4, (img.height - y) * img.width * 4);
    const r = await engine.chat.completions.create({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', image: PNG.sync.write(flipped) },
            { type: 'text', text: 'Q' },
          ],
        },
      ],
      max_tokens: 2,
      temperature: 0,
    });
    expect(r.usage.prompt_tokens_details!.cached_tokens).toBe('USER: '.length);
    expect((await engine.info())!.vision!.imagesEncoded).toBe(n + 1);
  });

  it('typed errors: image count vs image tokens, undecodable bytes, unsupported part types', async () => {
    await expect(collect(engine.generate({ ids: exp.inputIds, images: [] }))).rejects.toThrow(InvalidArgumentError);
    await expect(collect(engine.generate({ ids: exp.inputIds, images: [png, png] }))).rejects.toThrow(/16 image tokens .* for 2 images/);
    await expect(collect(engine.generate({ ids: exp.inputIds, images: [new Uint8Array([1, 2, 3, 4])] }))).rejects.toThrow(InvalidImageError);
    await expect(collect(engine.generate({ ids: exp.inputIds, images: ['data:image/png;base64,iVBORw0KGgo='] }))).rejects.toThrow(InvalidImageError);
    await expect(collect(engine.generate({ ids: exp.inputIds, images: ['/no/such/image.png'] }))).rejects.toThrow(InvalidImageError);
    const bad = [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] as unknown as ChatMessage[];
    await expect(engine.chat.completions.create({ messages: bad, max_tokens: 1 })).rejects.toThrow(InvalidArgumentError);
    await expect(engine.chat.completions.create({ messages: bad, max_tokens: 1 })).rejects.toThrow(/content part type "input_audio" is not supported/);
    // The engine still works after the errors.
    const ok = await collect(engine.generate({ ids: exp.inputIds, images: [png] }, { temperature: 0, maxTokens: 2, ignoreEos: true }));
    expect(ok.flatMap((c) => c.tokenIds)).toEqual(exp.greedyIds.slice(0, 2));
  });

  it('a text-only model rejects images and joins text parts', async () => {
    const { fixtureWithTokenizer } = await import('../helpers/fixtures.js');
    const text = createNodeEngine();
    try {
      await text.load(await fixtureWithTokenizer('qwen2'), { maxContext: 64 });
      expect((await text.info())!.vision).toBeUndefined();
      const img = [{ role: 'user', content: [{ type: 'image', image: png }] }] as ChatMessage[];
      await expect(text.chat.completions.create({ messages: img, max_tokens: 1 })).rejects.toThrow(/has no vision encoder/);
      const parts = await text.chat.completions.create({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'a' },
              { type: 'text', text: 'b' },
            ],
          },
        ],
        max_tokens: 1,
        temperature: 0,
      });
      const plain = await text.chat.completions.create({ messages: [{ role: 'user', content: 'a\nb' }], max_tokens: 1, temperature: 0 });
      expect(parts.usage.prompt_tokens).toBe(plain.usage.prompt_tokens);
    } finally {
      await text.dispose();
    }
    expect(fixtureDir('llava')).toBeTruthy();
  });
});
