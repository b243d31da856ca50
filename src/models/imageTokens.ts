import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import type { EmbeddingRows } from './embeddingOverride.js';

/** Features of this many images stay on the GPU for images that come again. */
const FEATURE_CACHE = 8;

/**
 * The image side of a prompt, as every vision-language family keeps it: which image (`key`) and which row of
 * its features each prompt token shows, the images of the prompt, the features of recently used images on the
 * GPU (encoded on first use, least recently used dropped past FEATURE_CACHE), and the image each cached
 * position showed, so a new image behind the same token ids is not taken from the KV cache.
 */
export class ImageTokens<I> {
  private keys: (string | undefined)[] = [];
  private rows: number[] = [];
  private cachedKeys: (string | undefined)[] = [];
  private readonly images = new Map<string, I>();
  private readonly features = new Map<string, Tensor>(); // in use order

  constructor(
    private readonly ctx: GpuContext,
    /** Records and submits an image's encoder; returns its features [rows, H] (a tensor of its own). */
    private readonly encode: (image: I) => Tensor,
  ) {}

  /** The next prompt: per token its image key (undefined: a text token) and feature row; the images by key. */
  setPrompt(keys: (string | undefined)[], rows: number[], images: Iterable<readonly [string, I]>): void {
    this.keys = keys;
    this.rows = rows;
    this.images.clear();
    for (const [key, im] of images) this.images.set(key, im);
  }

  /** The first of the text model's `cached` positions whose image differs from the prompt's. */
  cachedLength(cached: number): number {
    for (let i = 0; i < cached; i++) if (this.cachedKeys[i] !== this.keys[i]) return i;
    return cached;
  }

  /**
   * The embedding overrides of prompt positions start .. start + n (after `given`): one per run of
   * consecutive feature rows of one image, rows of width H.
   */
  overrides(start: number, n: number, H: number, given: readonly EmbeddingRows[] = []): EmbeddingRows[] {
    const out = [...given];
    for (let i = 0; i < n; ) {
      const key = this.keys[start + i];
      if (!key) {
        i++;
        continue;
      }
      const row = this.rows[start + i]!;
      let j = i + 1;
      while (j < n && this.keys[start + j] === key && this.rows[start + j] === row + (j - i)) j++;
      out.push({ at: i, rows: this.ctx.view(this.featuresOf(key), [j - i, H], row * H * 4) });
      i = j;
    }
    return out;
  }

  /** After a forward of positions start .. start + n: which image each now-cached position shows (none with idFrom). */
  forwarded(start: number, n: number, fromIds: boolean): void {
    this.cachedKeys.length = Math.min(this.cachedKeys.length, start);
    while (this.cachedKeys.length < start) this.cachedKeys.push(undefined);
    for (let i = 0; i < n; i++) this.cachedKeys.push(fromIds ? undefined : this.keys[start + i]);
  }

  private featuresOf(key: string): Tensor {
    let f = this.features.get(key);
    if (f) {
      this.features.delete(key); // most recently used last
    } else {
      const im = this.images.get(key);
      if (!im) throw new InvalidArgumentError(`no pixels for image ${key}: setImages() first`);
      f = this.encode(im);
      while (this.features.size >= FEATURE_CACHE) {
        const [old, t] = this.features.entries().next().value as [string, Tensor];
        this.features.delete(old);
        this.ctx.destroyBuffer(t.buffer);
      }
    }
    this.features.set(key, f);
    return f;
  }

  dispose(): void {
    for (const t of this.features.values()) this.ctx.destroyBuffer(t.buffer);
    this.features.clear();
  }
}
