import { InvalidArgumentError, InvalidModelError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { DType, Tensor } from '../gpu/tensor.js';
import { matmul } from '../kernels/matmul.js';
import { layerNorm } from '../kernels/norm.js';
import { pixelShuffle } from '../kernels/pixelShuffle.js';
import { patchesPerImage, unfoldPatches, visionEncoder, VisionScratch, type VisionLayerWeights } from '../layers/vision.js';
import type { TensorInfo, WeightSource } from '../weights/source.js';
import type { DecoderModel } from './decoder.js';
import { ImageTokens } from './imageTokens.js';
import type { Idefics3ModelConfig, Idefics3VisionConfig } from './idefics3Config.js';
import type { LoadModelOptions } from './load.js';
import type { ForwardOptions, LoadedModel, ModelInfo } from './types.js';
import { loadEncoderLayers, loadTextThenVision } from './visionLoad.js';

/** A preprocessed image of an Idefics3 prompt: its tiles (src/image/idefics3.ts); equal keys, equal features. */
export interface Idefics3PromptImage {
  readonly key: string;
  readonly pixels: Float32Array; // [tiles, C, S, S]
  readonly tiles: number;
}

/** The text model's tensors under the names buildModel reads: model.text_model.* → model.*, lm_head.weight. */
function textWeights(src: WeightSource): WeightSource {
  const names = new Map<string, string>();
  for (const n of src.tensors.keys()) {
    if (n.startsWith('model.text_model.')) names.set(`model.${n.slice('model.text_model.'.length)}`, n);
    else if (n === 'lm_head.weight') names.set(n, n);
  }
  const tensors = new Map<string, TensorInfo>();
  for (const [m, n] of names) tensors.set(m, { ...src.tensors.get(n)!, name: m });
  const stored = (m: string) => names.get(m) ?? m;
  return { tensors, read: (m) => src.read(stored(m)), readRange: (m, o, l) => src.readRange(stored(m), o, l) };
}

interface TowerWeights {
  readonly patch: Tensor; // [D, C * p * p]
  readonly embed: Float32Array; // [P, D]: position embeddings + the patch conv's bias
  readonly layers: readonly VisionLayerWeights[];
  readonly post: Tensor; // [D] f32
  readonly postBias: Tensor;
  readonly proj: Tensor; // [Ht, D * s * s] (no bias)
}

/** Loads the text model (llama), the SigLIP tower, its post-norm and the connector. */
export async function buildIdefics3(ctx: GpuContext, c: Idefics3ModelConfig, src: WeightSource, opts: LoadModelOptions = {}): Promise<Idefics3Model> {
  const v = c.idefics3;
  const D = v.hiddenSize;
  const Ht = c.text.hiddenSize;
  const vp = 'model.vision_model.';
  const pp = 'model.connector.modality_projection.proj.weight';
  if (!src.tensors.has(`${vp}embeddings.patch_embedding.weight`)) throw new InvalidModelError(`the checkpoint has no vision tower (${vp}embeddings.patch_embedding.weight)`);
  if (!src.tensors.has(pp)) throw new InvalidModelError(`the checkpoint has no connector (${pp})`);
  if ((patchesPerImage(v) * D * 4) % ctx.limits.minStorageBufferOffsetAlignment !== 0) {
    throw new InvalidModelError(`a tile of ${patchesPerImage(v)} patches x ${D} f32 is not a whole ${ctx.limits.minStorageBufferOffsetAlignment}-byte binding step`);
  }
  const visionNames = [...src.tensors.keys()].filter((n) => n.startsWith(vp) || n === pp);
  const visionBytes = visionNames.reduce((a, n) => a + src.tensors.get(n)!.byteLength, 0);
  const load = await loadTextThenVision(ctx, c.text, textWeights(src), src, visionBytes, opts);
  const { mat, vec, f32, text } = load;
  try {
    const P = patchesPerImage(v);
    const K = v.numChannels * v.patchSize ** 2;
    const embed = await f32(`${vp}embeddings.position_embedding.weight`, [P, D]);
    const bias = await f32(`${vp}embeddings.patch_embedding.bias`, [D]);
    for (let i = 0; i < P * D; i++) embed[i]! += bias[i % D]!;
    const layers = await loadEncoderLayers(load, vp, v.numLayers, D, v.intermediateSize);
    const tower: TowerWeights = {
      patch: await mat(`${vp}embeddings.patch_embedding.weight`, [D, K]),
      embed,
      layers,
      post: await vec(`${vp}post_layernorm.weight`, D),
      postBias: await vec(`${vp}post_layernorm.bias`, D),
      proj: await mat(pp, [Ht, D * v.scaleFactor ** 2]),
    };
    const { created, weightBytes, dtype } = load.done();
    return new Idefics3Model(ctx, c, text, tower, created, weightBytes, dtype);
  } catch (err) {
    return load.fail(err);
  }
}

/** The encoder's buffers for a number of tiles (kept for the next image of as many tiles). */
interface TileScratch {
  readonly tiles: number;
  readonly s: VisionScratch;
  readonly positions: Tensor; // [tiles * P, D]
  readonly shuffled: Tensor; // [tiles * P / s^2, D * s^2]
}

/**
 * An Idefics3 model (SmolVLM): the text decoder, and the SigLIP tower + pixel shuffle + connector whose
 * features replace the image tokens' embeddings, tile by tile in the prompt's order. As LlavaModel:
 * `setImages` says which image each image token shows, an image is encoded the first time one of its
 * tokens is forwarded, and `cachedLength` stops where a cached image differs from the prompt's.
 */
export class Idefics3Model implements LoadedModel {
  readonly info: ModelInfo;
  /** Images run through the vision tower since load. */
  imagesEncoded = 0;
  private scratch: TileScratch | undefined;
  private readonly imageTokens: ImageTokens<Idefics3PromptImage>; // features [tiles * tokensPerTile, Ht]

  constructor(
    readonly ctx: GpuContext,
    readonly config: Idefics3ModelConfig,
    readonly text: DecoderModel,
    private readonly tower: TowerWeights,
    private readonly weightTensors: readonly Tensor[],
    visionWeightBytes: number,
    weightDType: DType | 'mixed',
  ) {
    this.imageTokens = new ImageTokens(ctx, (im) => this.encode(im.pixels, im.tiles));
    const t = text.info;
    this.info = { ...t, modelType: 'idefics3', weightDType, weightBytes: t.weightBytes + visionWeightBytes, gpuBytes: t.gpuBytes + visionWeightBytes };
  }

  get vis(): Idefics3VisionConfig {
    return this.config.idefics3;
  }

  get cachedLength(): number {
    return this.imageTokens.cachedLength(this.text.cachedLength);
  }

  canForwardAt(start: number): boolean {
    return this.text.canForwardAt(start);
  }

  /** The images of the next prompt in order: image i fills the next tiles_i * tokensPerTile image tokens. */
  setImages(ids: readonly number[], images: readonly Idefics3PromptImage[]): void {
    const { imageTokenId, tokensPerTile } = this.vis;
    const keys: (string | undefined)[] = new Array(ids.length).fill(undefined);
    const rows: number[] = new Array(ids.length).fill(0);
    let img = 0;
    let row = 0;
    let total = 0;
    for (let p = 0; p < ids.length; p++) {
      if (ids[p] !== imageTokenId) continue;
      total++;
      const im = images[img];
      if (!im) continue;
      keys[p] = im.key;
      rows[p] = row++;
      if (row === im.tiles * tokensPerTile) (img++, (row = 0));
    }
    const want = images.reduce((a, im) => a + im.tiles * tokensPerTile, 0);
    if (total !== want) {
      throw new InvalidArgumentError(
        `the prompt has ${total} image tokens (id ${imageTokenId}) for ${images.length} image${images.length === 1 ? '' : 's'}, which take ${want} (${tokensPerTile} per tile)`,
      );
    }
    this.imageTokens.setPrompt(
      keys,
      rows,
      images.map((im) => [im.key, im] as const),
    );
  }

  forward(ids: ArrayLike<number>, start: number, opts: ForwardOptions = {}): Tensor {
    const n = ids.length;
    const overrides = opts.idFrom ? [...(opts.embeddings ?? [])] : this.imageTokens.overrides(start, n, this.config.text.hiddenSize, opts.embeddings);
    const logits = this.text.forward(ids, start, overrides.length ? { ...opts, embeddings: overrides } : opts);
    this.imageTokens.forwarded(start, n, !!opts.idFrom);
    return logits;
  }

  /** The connector's output for one image's tiles, read back: [tiles * tokensPerTile, Ht] (tests, tools). */
  async imageFeatures(pixels: Float32Array, tiles: number): Promise<Float32Array> {
    const f = this.encode(pixels, tiles);
    try {
      return await this.ctx.readF32(f);
    } finally {
      this.ctx.destroyBuffer(f.buffer);
    }
  }

  /** The tower's output after post_layernorm for the tiles, read back: [tiles * P, D] (tests). */
  async towerOutput(pixels: Float32Array, tiles: number): Promise<Float32Array> {
    const sc = this.runTower(pixels, tiles);
    this.ctx.flush();
    return this.ctx.readF32(sc.s.x);
  }

  private scratchFor(tiles: number): TileScratch {
    if (this.scratch?.tiles === tiles) return this.scratch;
    const { ctx, tower } = this;
    const v = this.vis;
    this.disposeScratch();
    const P = patchesPerImage(v);
    const D = v.hiddenSize;
    const s = new VisionScratch(ctx, v, tiles);
    const rep = new Float32Array(tiles * P * D);
    for (let t = 0; t < tiles; t++) rep.set(tower.embed, t * P * D);
    const positions = ctx.upload(rep, [tiles * P, D], 'f32', 'vision.positions');
    const shuffled = ctx.createTensor([(tiles * P) / v.scaleFactor ** 2, D * v.scaleFactor ** 2], 'f32', 'vision.shuffled');
    return (this.scratch = { tiles, s, positions, shuffled });
  }

  /** Records the tower over one image's tiles: the output after post_layernorm is left in the scratch's x [tiles * P, D]. */
  private runTower(pixels: Float32Array, tiles: number): TileScratch {
    const { ctx, tower } = this;
    const v = this.vis;
    const S = v.imageSize;
    const per = v.numChannels * S * S;
    if (!Number.isInteger(tiles) || tiles < 1 || pixels.length !== tiles * per) {
      throw new InvalidArgumentError(`pixel_values hold ${pixels.length} values; ${tiles} tiles of [${v.numChannels}, ${S}, ${S}] need ${tiles * per}`);
    }
    ctx.flush(); // work recorded before may still read the scratch
    const sc = this.scratchFor(tiles);
    const P = patchesPerImage(v);
    const K = v.numChannels * v.patchSize ** 2;
    const patches = new Float32Array(tiles * P * K);
    for (let t = 0; t < tiles; t++) patches.set(unfoldPatches(pixels.subarray(t * per, (t + 1) * per), v), t * P * K);
    ctx.write(sc.s.patches, patches);
    visionEncoder(ctx, v, { patch: tower.patch, positions: sc.positions, layers: tower.layers }, sc.s);
    layerNorm(ctx, sc.s.h, tower.post, tower.postBias, sc.s.x, v.eps);
    return sc;
  }

  /** Records the tower, pixel shuffle and connector over one image's tiles and submits them; returns [tiles * tokensPerTile, Ht]. */
  private encode(pixels: Float32Array, tiles: number): Tensor {
    const { ctx, vis: v } = this;
    const sc = this.runTower(pixels, tiles);
    const side = v.imageSize / v.patchSize;
    const out = ctx.createTensor([tiles * v.tokensPerTile, this.config.text.hiddenSize], 'f32', 'image.features');
    pixelShuffle(ctx, sc.s.x, sc.shuffled, { tiles, h: side, w: side, s: v.scaleFactor });
    matmul(ctx, sc.shuffled, this.tower.proj, out);
    ctx.flush(); // the next image's patches must not land before this one's encoder ran
    this.imagesEncoded++;
    return out;
  }

  private disposeScratch(): void {
    const sc = this.scratch;
    if (!sc) return;
    for (const t of [...sc.s.tensors(), sc.positions, sc.shuffled]) this.ctx.destroyBuffer(t.buffer);
    this.scratch = undefined;
  }

  prepareDecode(): Promise<void> {
    return this.text.prepareDecode();
  }

  dispose(): void {
    const { ctx } = this;
    this.imageTokens.dispose();
    this.disposeScratch();
    for (const b of new Set(this.weightTensors.map((t) => t.buffer))) ctx.destroyBuffer(b);
    this.text.dispose();
  }
}
