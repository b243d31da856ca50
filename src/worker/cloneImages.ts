import type { ContentPart, ImageSource } from '../tokenizer/contentParts.js';
import type { GenerateInput } from '../engine/types.js';
import type { ChatMessage } from '../tokenizer/chatTemplate.js';

/** Whether structured clone (postMessage) cannot take this image: DOM elements and OffscreenCanvas. */
function needsBitmap(x: unknown): boolean {
  const g = globalThis as unknown as Record<string, (abstract new (...a: never[]) => unknown) | undefined>;
  return ['HTMLImageElement', 'HTMLCanvasElement', 'OffscreenCanvas', 'SVGImageElement', 'HTMLVideoElement'].some((n) => g[n] && x instanceof g[n]!);
}

async function cloneable(x: ImageSource): Promise<ImageSource> {
  if (!needsBitmap(x)) return x; // Blob, File, ImageBitmap, ImageData, bytes: structured clone takes them
  const img = x as { decode?: () => Promise<void>; complete?: boolean };
  if (typeof img.decode === 'function' && img.complete === false) await img.decode();
  return createImageBitmap(x as ImageBitmapSource);
}

/** Messages whose image parts can cross postMessage: elements and OffscreenCanvas become ImageBitmaps. */
export async function cloneableMessages(messages: readonly ChatMessage[]): Promise<readonly ChatMessage[]> {
  if (!Array.isArray(messages) || !messages.some((m) => Array.isArray(m.content))) return messages;
  return Promise.all(
    messages.map(async (m) => {
      if (!Array.isArray(m.content)) return m;
      const parts = await Promise.all(
        (m.content as readonly ContentPart[]).map(async (p) => (p?.type === 'image' && p.image ? { ...p, image: await cloneable(p.image) } : p)),
      );
      return { ...m, content: parts };
    }),
  );
}

/** A generate input whose images can cross postMessage. */
export async function cloneableInput(input: GenerateInput): Promise<GenerateInput> {
  if (Array.isArray(input)) return cloneableMessages(input);
  if (typeof input === 'object' && input !== null && 'ids' in input && input.images) {
    return { ...input, images: await Promise.all(input.images.map((i) => (typeof i === 'string' ? i : cloneable(i)))) };
  }
  return input;
}
