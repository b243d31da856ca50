import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { InvalidArgumentError, InvalidModelError } from '../errors.js';
import { imageToRgba, type ImageBytesDecoder, type ImageFileReader } from '../image/decode.js';
import type { GpuContext } from '../gpu/context.js';
import {
  idefics3ImagePrompt,
  idefics3Layout,
  idefics3PreprocessConfig,
  idefics3Preprocess,
  idefics3Tiles,
  type Idefics3Layout,
  type Idefics3PreprocessConfig,
} from '../image/idefics3.js';
import { clipPreprocess, clipPreprocessConfig, cropNormalize, resizeOutputSize, type ClipPreprocessConfig, type RgbaImage } from '../image/preprocess.js';
import { gpuResizeFits, resizeRgbaGpu } from '../kernels/resample.js';
import type { RawConfig } from '../models/config.js';
import type { Idefics3PromptImage } from '../models/idefics3.js';
import type { Idefics3VisionConfig } from '../models/idefics3Config.js';
import type { Qwen2VLPromptImage } from '../models/qwen2vl.js';
import type { Qwen2VLVisionConfig } from '../models/qwen2vlConfig.js';
import { mergedTokens } from '../models/qwen2vlRope.js';
import { qwen2vlGrid, qwen2vlPatches, qwen2vlPreprocess, qwen2vlPreprocessConfig, type Qwen2VLGrid, type Qwen2VLPreprocessConfig } from '../image/qwen2vl.js';
import type { PromptImage } from '../models/llava.js';
import type { VisionConfig } from '../models/llavaConfig.js';
import type { ChatMessage } from '../tokenizer/chatTemplate.js';
import { imageOfPart, type ContentPart, type ImageSource } from '../tokenizer/contentParts.js';

/** The image processor of a vision model: preprocessor_config.json, else CLIP's defaults at the tower's size. */
export function preprocessConfigFor(raw: RawConfig | undefined, vision: VisionConfig, where: string): ClipPreprocessConfig {
  const cfg = clipPreprocessConfig(raw ?? {}, `${where}/preprocessor_config.json`, vision.imageSize);
  const { height, width } = cfg.doCenterCrop ? cfg.cropSize : 'height' in cfg.size ? cfg.size : { height: 0, width: 0 };
  if (height !== vision.imageSize || width !== vision.imageSize) {
    throw new InvalidModelError(
      `${where}: the image processor makes ${width} x ${height} images; the vision tower takes ${vision.imageSize} x ${vision.imageSize}`,
    );
  }
  return cfg;
}

/** Images of a prompt decoded to RGBA (URLs fetched, files read, bytes decoded). */
export async function decodeImages(
  sources: readonly (ImageSource | string)[],
  decode: ImageBytesDecoder,
  signal?: AbortSignal,
  readFile?: ImageFileReader,
): Promise<RgbaImage[]> {
  const out: RgbaImage[] = [];
  for (const src of sources) out.push(await imageToRgba(src, decode, signal, readFile));
  return out;
}

/** Images of at least this many pixels are resized on the GPU when one is given (ctx.kernelOverrides.imageResize.minPixels replaces it). */
const GPU_RESIZE_MIN_PIXELS = 1 << 20;

/** Whether `img` is resized on the GPU of `ctx` to `width` columns: large enough (or the override's threshold), and within its limits. */
function resizesOnGpu(ctx: GpuContext | undefined, img: RgbaImage, width: number): ctx is GpuContext {
  const minPixels = ctx?.kernelOverrides?.imageResize?.minPixels ?? GPU_RESIZE_MIN_PIXELS;
  return !!ctx && img.width * img.height >= minPixels && gpuResizeFits(ctx, img, width);
}

/**
 * pixel_values of decoded images, each keyed by the sha256 of its pixel_values (equal pixels, equal
 * features). With `ctx`, large images are resized on the GPU (src/kernels/resample.ts, bit-exact with
 * the CPU); the crop and normalisation of the small result run on the CPU.
 */
export async function preprocessImages(images: readonly RgbaImage[], cfg: ClipPreprocessConfig, ctx?: GpuContext): Promise<PromptImage[]> {
  const out: PromptImage[] = [];
  for (const img of images) {
    let pixels: Float32Array;
    const o = cfg.doResize ? resizeOutputSize(img.width, img.height, cfg.size) : undefined;
    if (o && resizesOnGpu(ctx, img, o.width)) {
      pixels = cropNormalize(await resizeRgbaGpu(ctx, img, o.width, o.height, cfg.filter, cfg.precision), o.width, o.height, cfg).pixels;
    } else {
      pixels = clipPreprocess(img, cfg).pixels;
    }
    out.push({ key: bytesToHex(sha256(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength))), pixels });
  }
  return out;
}

/** Decodes and preprocesses images on the CPU (the CLI). */
export async function toPromptImages(
  sources: readonly (ImageSource | string)[],
  cfg: ClipPreprocessConfig,
  decode: ImageBytesDecoder,
  signal?: AbortSignal,
  readFile?: ImageFileReader,
): Promise<PromptImage[]> {
  return preprocessImages(await decodeImages(sources, decode, signal, readFile), cfg);
}

/**
 * The prompt with `count` images: as is when it already holds count * perImage image tokens, or with each
 * of `count` single image tokens (what a chat template writes) repeated perImage times.
 */
export function expandImageTokens(ids: readonly number[], imageTokenId: number, perImage: number, count: number): number[] {
  const k = ids.reduce((n, id) => n + (id === imageTokenId ? 1 : 0), 0);
  if (k === count * perImage) return [...ids];
  if (k === count) return ids.flatMap((id) => (id === imageTokenId ? new Array<number>(perImage).fill(id) : [id]));
  throw new InvalidArgumentError(
    `the prompt has ${k} image tokens (id ${imageTokenId}) for ${count} image${count === 1 ? '' : 's'}: give one token per image (the chat template's) or ${perImage} per image`,
  );
}

/** Idefics3's image processor (preprocessor_config.json); its tiles must be the tower's image size. */
export function idefics3PreprocessFor(raw: RawConfig | undefined, vision: Idefics3VisionConfig, where: string): Idefics3PreprocessConfig {
  const cfg = idefics3PreprocessConfig(raw ?? { max_image_size: { longest_edge: vision.imageSize } }, `${where}/preprocessor_config.json`);
  if (cfg.tileSize !== vision.imageSize) {
    throw new InvalidModelError(
      `${where}: the image processor makes ${cfg.tileSize}-pixel tiles; the vision tower takes ${vision.imageSize} x ${vision.imageSize}`,
    );
  }
  return cfg;
}

/** The tile grids of a prompt's images (what the prompt's layout needs; no pixels are resized). */
export function idefics3Layouts(images: readonly RgbaImage[], cfg: Idefics3PreprocessConfig): Idefics3Layout[] {
  return images.map((img) => idefics3Layout(img.width, img.height, cfg));
}

/**
 * The tiles of a prompt's images, each keyed by the sha256 of its pixel values. With `ctx`, the first
 * resize of a large image runs on the GPU (bit-exact with the CPU, as for CLIP); the rest on the CPU.
 */
export async function idefics3Images(images: readonly RgbaImage[], cfg: Idefics3PreprocessConfig, ctx?: GpuContext): Promise<Idefics3PromptImage[]> {
  const out: Idefics3PromptImage[] = [];
  for (const img of images) {
    const layout = idefics3Layout(img.width, img.height, cfg);
    const { width, height } = layout.resized;
    const t = resizesOnGpu(ctx, img, width)
      ? idefics3Tiles(await resizeRgbaGpu(ctx, img, width, height, cfg.filter, cfg.precision), layout, cfg)
      : idefics3Preprocess(img, cfg);
    const key = bytesToHex(sha256(new Uint8Array(t.pixels.buffer, t.pixels.byteOffset, t.pixels.byteLength)));
    out.push({ key, pixels: t.pixels, tiles: t.count });
  }
  return out;
}

/**
 * An Idefics3 prompt with its images: as is when it already holds every tile's image tokens, or with each
 * single image token (what the chat template writes) replaced by the tokens of Idefics3Processor's text
 * for that image (`<fake_token_around_image><row_1_col_1><image>...`, src/image/idefics3.ts), which
 * `encode` (the tokenizer) turns into ids: the text begins and ends with special tokens, so it tokenizes
 * the same alone as inside the prompt.
 */
export function expandIdefics3Tokens(
  ids: readonly number[],
  images: readonly Idefics3Layout[],
  vision: Idefics3VisionConfig,
  encode?: (text: string) => number[],
): number[] {
  const { imageTokenId: id, tokensPerTile: seq } = vision;
  const tiles = (im: Idefics3Layout) => im.rows * im.cols + 1;
  const k = ids.reduce((n, x) => n + (x === id ? 1 : 0), 0);
  const full = images.reduce((n, im) => n + tiles(im) * seq, 0);
  if (k === full) return [...ids];
  if (k !== images.length) {
    throw new InvalidArgumentError(
      `the prompt has ${k} image tokens (id ${id}) for ${images.length} image${images.length === 1 ? '' : 's'}: give one token per image (the chat template's) or ${full} (${seq} per tile)`,
    );
  }
  if (!encode)
    throw new InvalidArgumentError(`one image token per image is expanded with the tokenizer, and this model has none: give all ${full} image tokens`);
  let i = 0;
  return ids.flatMap((x) => {
    if (x !== id) return [x];
    const im = images[i++]!;
    const layout = encode(idefics3ImagePrompt(im.rows, im.cols, seq));
    if (layout.filter((t) => t === id).length !== tiles(im) * seq)
      throw new InvalidModelError(`the tokenizer does not map <image> to the image token id ${id}`);
    return layout;
  });
}

/** Qwen2-VL's image processor (preprocessor_config.json); its patches must be the tower's. */
export function qwen2vlPreprocessFor(raw: RawConfig | undefined, vision: Qwen2VLVisionConfig, where: string): Qwen2VLPreprocessConfig {
  const cfg = qwen2vlPreprocessConfig(raw ?? {}, `${where}/preprocessor_config.json`);
  const want = [vision.patchSize, vision.temporalPatchSize, vision.mergeSize];
  const got = [cfg.patchSize, cfg.temporalPatchSize, cfg.mergeSize];
  if (want.some((x, i) => x !== got[i])) {
    throw new InvalidModelError(
      `${where}: the image processor's patch ${got[0]}, temporal ${got[1]}, merge ${got[2]} are not the vision tower's (${want.join(', ')})`,
    );
  }
  return cfg;
}

/** The patch grids of a prompt's images (what its image tokens need; no pixels are resized). */
export function qwen2vlGrids(images: readonly RgbaImage[], cfg: Qwen2VLPreprocessConfig): Qwen2VLGrid[] {
  return images.map((img) => qwen2vlGrid(img.width, img.height, cfg));
}

/**
 * The patches of a prompt's images, each keyed by the sha256 of its pixel values. With `ctx`, the resize of a
 * large image runs on the GPU (bit-exact with the CPU, as for CLIP); the patches are cut on the CPU.
 */
export async function qwen2vlImages(images: readonly RgbaImage[], cfg: Qwen2VLPreprocessConfig, ctx?: GpuContext): Promise<Qwen2VLPromptImage[]> {
  const out: Qwen2VLPromptImage[] = [];
  for (const img of images) {
    const grid = qwen2vlGrid(img.width, img.height, cfg);
    const { width, height } = grid.resized;
    const resized = width !== img.width || height !== img.height;
    const p =
      resized && resizesOnGpu(ctx, img, width)
        ? qwen2vlPatches(await resizeRgbaGpu(ctx, img, width, height, cfg.filter, cfg.precision), grid, cfg)
        : qwen2vlPreprocess(img, cfg);
    const key = bytesToHex(sha256(new Uint8Array(p.pixels.buffer, p.pixels.byteOffset, p.pixels.byteLength)));
    out.push({ key, pixels: p.pixels, grid: { t: grid.t, h: grid.h, w: grid.w } });
  }
  return out;
}

/**
 * A Qwen2-VL prompt with its images: as is when it already holds every image's tokens, or with each single image
 * token (the chat template's `<|image_pad|>`) repeated for its image's merged patches, as Qwen2VLProcessor does.
 */
export function expandQwen2VLTokens(ids: readonly number[], grids: readonly Qwen2VLGrid[], vision: Qwen2VLVisionConfig): number[] {
  const id = vision.imageTokenId;
  const per = grids.map((g) => mergedTokens(g, vision.mergeSize));
  const k = ids.reduce((n, x) => n + (x === id ? 1 : 0), 0);
  const full = per.reduce((a, b) => a + b, 0);
  if (k === full) return [...ids];
  if (k !== grids.length) {
    throw new InvalidArgumentError(
      `the prompt has ${k} image tokens (id ${id}) for ${grids.length} image${grids.length === 1 ? '' : 's'}: give one token per image (the chat template's) or ${full} (${per.join(' + ')})`,
    );
  }
  let i = 0;
  return ids.flatMap((x) => (x === id ? new Array<number>(per[i++]!).fill(id) : [x]));
}

const PART_TYPES = "'text', 'image_url', 'image'";

/**
 * Chat messages with content parts → the messages the chat template renders and the images in order. For a
 * vision model a content array stays an array, images as `{type: 'image'}` (what HF templates test); for a
 * text model its text parts are joined by newlines and an image is an error.
 */
export function splitContentParts(
  messages: readonly ChatMessage[],
  vision: boolean,
  model: string,
): { messages: ChatMessage[]; images: (ImageSource | string)[] } {
  const images: (ImageSource | string)[] = [];
  const out = messages.map((m): ChatMessage => {
    // Vision templates (llava-hf's) iterate content parts: a string is one text part, as transformers' processors make it.
    if (vision && typeof m.content === 'string') return { ...m, content: [{ type: 'text', text: m.content }] };
    if (!Array.isArray(m.content)) return m;
    const parts = m.content as readonly ContentPart[];
    const rendered: ({ type: 'text'; text: string } | { type: 'image' })[] = [];
    for (const p of parts) {
      const type = (p as { type?: unknown })?.type;
      if (type === 'text') {
        if (typeof (p as { text?: unknown }).text !== 'string') throw new InvalidArgumentError('a text content part needs a string `text`');
        rendered.push({ type: 'text', text: (p as { text: string }).text });
      } else if (type === 'image_url' || type === 'image') {
        const img = imageOfPart(p);
        if (img === undefined || img === null || (type === 'image_url' && typeof img !== 'string')) {
          throw new InvalidArgumentError(type === 'image_url' ? 'an image_url content part needs image_url.url' : 'an image content part needs `image`');
        }
        if (!vision) throw new InvalidArgumentError(`${model} has no vision encoder: its prompts take no images`);
        images.push(img);
        rendered.push({ type: 'image' });
      } else {
        throw new InvalidArgumentError(`content part type ${JSON.stringify(type)} is not supported (${PART_TYPES})`);
      }
    }
    const content = vision ? rendered : rendered.map((r) => (r as { text: string }).text).join('\n');
    return { ...m, content: content as ChatMessage['content'] };
  });
  return { messages: out, images };
}
