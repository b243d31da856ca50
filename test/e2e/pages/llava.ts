// Image questions through the worker engine, driven by test/e2e/llava.test.ts: each function returns plain data.
import { createEngine, type ChatMessage, type Engine, type GenerateChunk } from '../../../src/index.js';

let engine: Engine | undefined;
const get = () => (engine ??= createEngine());

async function tokens(it: AsyncIterable<GenerateChunk>): Promise<number[]> {
  const ids: number[] = [];
  for await (const c of it) ids.push(...c.tokenIds);
  return ids;
}

const blobOf = async (url: string) => (await fetch(url)).blob();

const api = {
  async load(url: string) {
    return get().load(url, { dtype: 'f32', maxContext: 256 });
  },
  /** { ids, images: [Blob] }: the Blob crosses postMessage as it is. */
  async generateWithBlob(ids: number[], imageUrl: string, maxTokens: number) {
    return tokens(get().generate({ ids, images: [await blobOf(imageUrl)] }, { temperature: 0, maxTokens, ignoreEos: true }));
  },
  /** A content part holding the Blob, and one holding a <canvas> with the same pixels (sent as an ImageBitmap). */
  async chat(imageUrl: string, text: string, maxTokens: number, as: 'blob' | 'canvas') {
    const blob = await blobOf(imageUrl);
    let image: Blob | HTMLCanvasElement = blob;
    if (as === 'canvas') {
      const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
      const canvas = document.createElement('canvas');
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      canvas.getContext('2d')!.drawImage(bitmap, 0, 0);
      image = canvas;
    }
    const messages: ChatMessage[] = [
      {
        role: 'user',
        content: [
          { type: 'image', image },
          { type: 'text', text },
        ],
      },
    ];
    const r = await get().chat.completions.create({ messages, max_tokens: maxTokens, temperature: 0 });
    return { content: r.choices[0]!.message.content, usage: r.usage, info: await get().info() };
  },
  /** Undecodable bytes as an image: the typed error as it arrives on the page. */
  async badImage() {
    try {
      await tokens(get().generate({ ids: [1, 511], images: [new Blob([new Uint8Array([1, 2, 3, 4, 5])])] }));
      return null;
    } catch (e) {
      const err = e as Error & { code?: string };
      return { name: err.name, code: err.code, message: err.message };
    }
  },
};

(window as unknown as { llavaApi: typeof api }).llavaApi = api;
(window as unknown as { llavaReady: boolean }).llavaReady = true;
