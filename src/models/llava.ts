import { InvalidArgumentError, InvalidModelError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { DType, Tensor } from '../gpu/tensor.js';
import { activation } from '../kernels/elementwise.js';
import { matmul } from '../kernels/matmul.js';
import { patchesPerImage, unfoldPatches, visionEncoder, VisionScratch, type VisionWeights } from '../layers/vision.js';
import type { TensorInfo, WeightSource } from '../weights/source.js';
import type { DecoderModel } from './decoder.js';
import { ImageTokens } from './imageTokens.js';
import type { LlavaModelConfig, VisionConfig } from './llavaConfig.js';
import type { LoadModelOptions } from './load.js';
import type { ForwardOptions, LoadedModel, ModelInfo } from './types.js';
import { loadEncoderLayers, loadTextThenVision } from './visionLoad.js';

/** The text model's tensors under the names buildModel reads (model.*, lm_head.weight), whatever llava prefix they have. */
export function textWeights(src: WeightSource): WeightSource {
  const names = new Map<string, string>();
  for (const n of src.tensors.keys()) {
    let m: string | undefined;
    if (n.startsWith('language_model.model.')) m = `model.${n.slice('language_model.model.'.length)}`;
    else if (n === 'language_model.lm_head.weight') m = 'lm_head.weight';
    else if (n.startsWith('model.language_model.')) m = `model.${n.slice('model.language_model.'.length)}`;
    else if (n === 'lm_head.weight') m = n;
    if (m) names.set(m, n);
  }
  const tensors = new Map<string, TensorInfo>();
  for (const [m, n] of names) tensors.set(m, { ...src.tensors.get(n)!, name: m });
  const stored = (m: string) => names.get(m) ?? m;
  return { tensors, read: (m) => src.read(stored(m)), readRange: (m, o, l) => src.readRange(stored(m), o, l) };
}

/** The prefix under which a tensor named `...suffix` is stored (vision_tower., vision_tower.vision_model., model.vision_tower. ...). */
function prefixOf(src: WeightSource, suffix: string, what: string): string {
  for (const n of src.tensors.keys()) if (n.endsWith(suffix)) return n.slice(0, n.length - suffix.length);
  throw new InvalidModelError(`the checkpoint has no ${what} (a tensor named ...${suffix})`);
}

interface ProjectorWeights {
  readonly l1: Tensor; // [Ht, Dv]
  readonly b1?: Tensor; // [Ht] f32
  readonly l2: Tensor; // [Ht, Ht]
  readonly b2?: Tensor;
}

/** Loads the text model, the vision tower (the layers that run) and the projector. */
export async function buildLlava(ctx: GpuContext, c: LlavaModelConfig, src: WeightSource, opts: LoadModelOptions = {}): Promise<LlavaModel> {
  const v = c.vision;
  const D = v.hiddenSize;
  const Ht = c.text.hiddenSize;
  const vp = prefixOf(src, 'embeddings.patch_embedding.weight', 'vision tower');
  const pp = prefixOf(src, 'multi_modal_projector.linear_1.weight', 'multimodal projector') + 'multi_modal_projector.';
  const visionNames = [...src.tensors.keys()].filter((n) => {
    if (n.startsWith(pp)) return true;
    if (!n.startsWith(vp)) return false;
    const m = /encoder\.layers\.(\d+)\./.exec(n);
    return !m || Number(m[1]) < v.layersToRun;
  });
  const visionBytes = visionNames.reduce((a, n) => a + src.tensors.get(n)!.byteLength, 0);
  const load = await loadTextThenVision(ctx, c.text, textWeights(src), src, visionBytes, opts);
  const { mat, optVec, f32, text } = load;
  try {
    const P = patchesPerImage(v);
    const K = v.numChannels * v.patchSize ** 2;
    const positions = await f32(`${vp}embeddings.position_embedding.weight`, [P + 1, D]);
    const cls = await f32(`${vp}embeddings.class_embedding`, [D]);
    for (let i = 0; i < D; i++) positions[i]! += cls[i]!;
    const pos = load.keep(ctx.upload(positions, [P + 1, D], 'f32', 'vision.positions'));
    const layers = await loadEncoderLayers(load, vp, v.layersToRun, D, v.intermediateSize);
    const weights: VisionWeights = {
      patch: await mat(`${vp}embeddings.patch_embedding.weight`, [D, K]),
      positions: pos,
      preNorm: await optVec(`${vp}pre_layrnorm.weight`, D),
      preNormBias: await optVec(`${vp}pre_layrnorm.bias`, D),
      layers,
    };
    const projector: ProjectorWeights = {
      l1: await mat(`${pp}linear_1.weight`, [Ht, D]),
      b1: await optVec(`${pp}linear_1.bias`, Ht),
      l2: await mat(`${pp}linear_2.weight`, [Ht, Ht]),
      b2: await optVec(`${pp}linear_2.bias`, Ht),
    };
    const { created, weightBytes, dtype } = load.done();
    return new LlavaModel(ctx, c, text, weights, projector, created, weightBytes, dtype);
  } catch (err) {
    return load.fail(err);
  }
}

/** A preprocessed image of a prompt: `key` names its pixels (equal keys: the same features). */
export interface PromptImage {
  readonly key: string;
  readonly pixels: Float32Array; // [C, S, S]
}

/**
 * A LLaVA model: the text decoder, and the vision tower + projector whose features replace the image
 * tokens' embeddings. `setImages` says which image each image token of the next prompt shows; `forward`
 * encodes an image the first time one of its tokens is forwarded (a prompt whose image tokens are already
 * in the KV cache never encodes it) and hands the features to the decoder as embedding overrides.
 * `cachedLength` stops at the first cached position whose image differs from the prompt's, so a new image
 * with the same token ids is not taken from the cache.
 */
export class LlavaModel implements LoadedModel {
  readonly info: ModelInfo;
  /** Images run through the vision tower since load (tests read it to see the cache at work). */
  imagesEncoded = 0;
  private readonly scratch: VisionScratch;
  private readonly p1: Tensor; // [1 + P, Ht]
  private readonly p2: Tensor; // [1 + P, Ht]
  private readonly imageTokens: ImageTokens<Float32Array>; // features [tokensPerImage, Ht]

  constructor(
    readonly ctx: GpuContext,
    readonly config: LlavaModelConfig,
    readonly text: DecoderModel,
    private readonly vision: VisionWeights,
    private readonly projector: ProjectorWeights,
    private readonly weightTensors: readonly Tensor[],
    visionWeightBytes: number,
    weightDType: DType | 'mixed',
  ) {
    const before = ctx.bytesAllocated;
    const v = config.vision;
    this.scratch = new VisionScratch(ctx, v);
    this.imageTokens = new ImageTokens(ctx, (pixels) => this.encode(pixels));
    const N = 1 + patchesPerImage(v);
    this.p1 = ctx.createTensor([N, config.text.hiddenSize], 'f32', 'projector.1');
    this.p2 = ctx.createTensor([N, config.text.hiddenSize], 'f32', 'projector.2');
    const t = text.info;
    this.info = {
      ...t,
      modelType: 'llava',
      weightDType,
      weightBytes: t.weightBytes + visionWeightBytes,
      gpuBytes: t.gpuBytes + visionWeightBytes + ctx.bytesAllocated - before,
    };
  }

  get vis(): VisionConfig {
    return this.config.vision;
  }

  get cachedLength(): number {
    return this.imageTokens.cachedLength(this.text.cachedLength);
  }

  canForwardAt(start: number): boolean {
    return this.text.canForwardAt(start);
  }

  /**
   * The images of the next prompt `ids`, in order: image i fills image tokens i * N .. (i + 1) * N - 1
   * (N = tokensPerImage) of the prompt. InvalidArgumentError when the counts disagree.
   */
  setImages(ids: readonly number[], images: readonly PromptImage[]): void {
    const { imageTokenId, tokensPerImage: N } = this.vis;
    const keys: (string | undefined)[] = new Array(ids.length).fill(undefined);
    const rows: number[] = new Array(ids.length).fill(0);
    let k = 0;
    for (let p = 0; p < ids.length; p++) {
      if (ids[p] !== imageTokenId) continue;
      keys[p] = images[Math.floor(k / N)]?.key;
      rows[p] = k++ % N;
    }
    if (k !== images.length * N) {
      throw new InvalidArgumentError(
        `the prompt has ${k} image tokens (id ${imageTokenId}) for ${images.length} image${images.length === 1 ? '' : 's'}; each image takes ${N}`,
      );
    }
    this.imageTokens.setPrompt(
      keys,
      rows,
      images.map((im) => [im.key, im.pixels] as const),
    );
  }

  forward(ids: ArrayLike<number>, start: number, opts: ForwardOptions = {}): Tensor {
    const n = ids.length;
    const overrides = opts.idFrom ? [...(opts.embeddings ?? [])] : this.imageTokens.overrides(start, n, this.config.text.hiddenSize, opts.embeddings);
    const logits = this.text.forward(ids, start, overrides.length ? { ...opts, embeddings: overrides } : opts);
    this.imageTokens.forwarded(start, n, !!opts.idFrom);
    return logits;
  }

  /** The projected features of one preprocessed image, read back: [tokensPerImage, Ht] (tests, tools). */
  async imageFeatures(pixels: Float32Array): Promise<Float32Array> {
    const f = this.encode(pixels);
    try {
      return await this.ctx.readF32(f);
    } finally {
      this.ctx.destroyBuffer(f.buffer);
    }
  }

  /** Records the vision tower and projector over one image and submits them; returns its features [N, Ht]. */
  private encode(pixels: Float32Array): Tensor {
    const { ctx, scratch: s, projector: pr } = this;
    const v = this.vis;
    const Ht = this.config.text.hiddenSize;
    ctx.flush(); // work recorded before may still read the scratch: it runs before the write below lands
    ctx.write(s.patches, unfoldPatches(pixels, v));
    visionEncoder(ctx, v, this.vision, s);
    matmul(ctx, s.h, pr.l1, this.p1, pr.b1);
    activation(ctx, this.p1, this.p1, v.projectorActivation);
    matmul(ctx, this.p1, pr.l2, this.p2, pr.b2);
    const N = v.tokensPerImage;
    const skip = v.selectStrategy === 'default' ? 1 : 0;
    const out = ctx.createTensor([N, Ht], 'f32', 'image.features');
    ctx.copy({ buffer: this.p2.buffer, offset: this.p2.offset + skip * Ht * 4, size: N * Ht * 4 }, out, N * Ht * 4);
    ctx.flush(); // the next image's patches must not land before this one's encoder ran
    this.imagesEncoded++;
    return out;
  }

  prepareDecode(): Promise<void> {
    return this.text.prepareDecode();
  }

  dispose(): void {
    const { ctx } = this;
    this.imageTokens.dispose();
    for (const b of new Set([...this.weightTensors, ...this.scratch.tensors(), this.p1, this.p2].map((t) => t.buffer))) ctx.destroyBuffer(b);
    this.text.dispose();
  }
}
