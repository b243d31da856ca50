import { InvalidArgumentError, InvalidModelError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { DType, Tensor } from '../gpu/tensor.js';
import { patchPositions } from '../image/qwen2vl.js';
import { activation } from '../kernels/elementwise.js';
import { matmul } from '../kernels/matmul.js';
import { layerNorm } from '../kernels/norm.js';
import { visionLayer, VisionScratch, type VisionLayerWeights } from '../layers/vision.js';
import type { WeightSource } from '../weights/source.js';
import type { DecoderModel } from './decoder.js';
import { ImageTokens } from './imageTokens.js';
import type { LoadModelOptions } from './load.js';
import type { Qwen2VLModelConfig, Qwen2VLVisionConfig } from './qwen2vlConfig.js';
import { mergedTokens, mropePositions, type PatchGrid } from './qwen2vlRope.js';
import { qwen2vlTextWeights, qwen2vlVisionPrefix, splitQkv } from './qwen2vlWeights.js';
import { ropeParameters, ropeTable } from './ropeTable.js';
import type { ForwardOptions, LoadedModel, ModelInfo } from './types.js';
import { loadTextThenVision } from './visionLoad.js';

/** A preprocessed image of a Qwen2-VL prompt (src/image/qwen2vl.ts); equal keys, equal features. */
export interface Qwen2VLPromptImage {
  readonly key: string;
  readonly pixels: Float32Array; // [t * h * w, C * temporal * p * p], merge-grouped order
  readonly grid: PatchGrid;
}

interface TowerWeights {
  readonly patch: Tensor; // [D, C * temporal * p * p] (the Conv3d, no bias)
  readonly layers: readonly VisionLayerWeights[];
  readonly invFreq: Tensor; // [headDim / 2] f32: one axis's frequencies twice
  readonly lnQ: Tensor; // [D] f32
  readonly lnQBias: Tensor;
  readonly fc1: Tensor; // [4D, 4D]
  readonly fc1Bias: Tensor;
  readonly fc2: Tensor; // [Ht, 4D]
  readonly fc2Bias: Tensor;
}

/** Loads the text model (qwen2), the vision tower (q, k, v split out of the fused qkv) and the patch merger. */
export async function buildQwen2VL(ctx: GpuContext, c: Qwen2VLModelConfig, src: WeightSource, opts: LoadModelOptions = {}): Promise<Qwen2VLModel> {
  const v = c.qwen2vl;
  const D = v.hiddenSize;
  const M = D * v.mergeSize ** 2;
  const vp = qwen2vlVisionPrefix(src);
  const visionBytes = [...src.tensors.keys()].filter((n) => n.startsWith(vp)).reduce((a, n) => a + src.tensors.get(n)!.byteLength, 0);
  const vsrc = splitQkv(src, vp, v.depth, D);
  const load = await loadTextThenVision(ctx, c.text, qwen2vlTextWeights(src, vp), vsrc, visionBytes, opts);
  const { mat, vec, text } = load;
  try {
    const layers: VisionLayerWeights[] = [];
    for (let i = 0; i < v.depth; i++) {
      const l = `${vp}blocks.${i}.`;
      layers.push({
        ln1: await vec(`${l}norm1.weight`, D),
        ln1Bias: await vec(`${l}norm1.bias`, D),
        q: await mat(`${l}attn.q.weight`, [D, D]),
        qBias: await vec(`${l}attn.q.bias`, D),
        k: await mat(`${l}attn.k.weight`, [D, D]),
        kBias: await vec(`${l}attn.k.bias`, D),
        v: await mat(`${l}attn.v.weight`, [D, D]),
        vBias: await vec(`${l}attn.v.bias`, D),
        o: await mat(`${l}attn.proj.weight`, [D, D]),
        oBias: await vec(`${l}attn.proj.bias`, D),
        ln2: await vec(`${l}norm2.weight`, D),
        ln2Bias: await vec(`${l}norm2.bias`, D),
        fc1: await mat(`${l}mlp.fc1.weight`, [v.intermediateSize, D]),
        fc1Bias: await vec(`${l}mlp.fc1.bias`, v.intermediateSize),
        fc2: await mat(`${l}mlp.fc2.weight`, [D, v.intermediateSize]),
        fc2Bias: await vec(`${l}mlp.fc2.bias`, D),
      });
    }
    const axis = ropeTable(ropeParameters({ rope_theta: v.ropeTheta }), v.headDim / 2).invFreq;
    const inv = new Float32Array(v.headDim / 2);
    inv.set(axis, 0);
    inv.set(axis, axis.length);
    const tower: TowerWeights = {
      patch: await mat(`${vp}patch_embed.proj.weight`, [D, v.numChannels * v.patchSize ** 2]),
      layers,
      invFreq: load.keep(ctx.upload(inv, [inv.length], 'f32', 'vision.invFreq')),
      lnQ: await vec(`${vp}merger.ln_q.weight`, D),
      lnQBias: await vec(`${vp}merger.ln_q.bias`, D),
      fc1: await mat(`${vp}merger.mlp.0.weight`, [M, M]),
      fc1Bias: await vec(`${vp}merger.mlp.0.bias`, M),
      fc2: await mat(`${vp}merger.mlp.2.weight`, [v.outSize, M]),
      fc2Bias: await vec(`${vp}merger.mlp.2.bias`, v.outSize),
    };
    const { created, weightBytes, dtype } = load.done();
    return new Qwen2VLModel(ctx, c, text, tower, created, weightBytes, dtype);
  } catch (err) {
    return load.fail(err);
  }
}

/** The tower's buffers for one patch count (kept for the next image of as many patches). */
interface PatchScratch {
  readonly n: number;
  readonly s: VisionScratch;
  readonly positions: Tensor; // [3, n] u32: rows h, w, w
  readonly merged: Tensor; // [n / m^2, 4D]
}

/**
 * A Qwen2-VL model: the text decoder with M-RoPE, and the vision tower + patch merger whose features replace the
 * image tokens' embeddings. As Idefics3Model: `setImages` says which image each image token shows (and sets the
 * prompt's 3-row rotary positions), an image is encoded the first time one of its tokens is forwarded, and
 * `cachedLength` stops where a cached image differs from the prompt's. Tokens past the prompt (decode) rotate
 * by their cache index + rope_delta, one row: the decoder's plain RoPE.
 */
export class Qwen2VLModel implements LoadedModel {
  readonly info: ModelInfo;
  /** Images run through the vision tower since load. */
  imagesEncoded = 0;
  private scratch: PatchScratch | undefined;
  /** The prompt's rotary positions [3, S] and rope_delta (src/models/qwen2vlRope.ts). */
  private rope: { rows: Uint32Array; delta: number } = { rows: new Uint32Array(0), delta: 0 };
  private readonly imageTokens: ImageTokens<Qwen2VLPromptImage>; // features [tokens, Ht]

  constructor(
    readonly ctx: GpuContext,
    readonly config: Qwen2VLModelConfig,
    readonly text: DecoderModel,
    private readonly tower: TowerWeights,
    private readonly weightTensors: readonly Tensor[],
    visionWeightBytes: number,
    weightDType: DType | 'mixed',
  ) {
    this.imageTokens = new ImageTokens(ctx, (im) => this.encode(im.pixels, im.grid));
    const t = text.info;
    this.info = { ...t, modelType: 'qwen2_vl', weightDType, weightBytes: t.weightBytes + visionWeightBytes, gpuBytes: t.gpuBytes + visionWeightBytes };
  }

  get vis(): Qwen2VLVisionConfig {
    return this.config.qwen2vl;
  }

  get cachedLength(): number {
    return this.imageTokens.cachedLength(this.text.cachedLength);
  }

  canForwardAt(start: number): boolean {
    return this.text.canForwardAt(start);
  }

  /** The images of the next prompt in order: image i fills the next mergedTokens(grid_i) image tokens. */
  setImages(ids: readonly number[], images: readonly Qwen2VLPromptImage[]): void {
    const { imageTokenId, mergeSize } = this.vis;
    this.rope = mropePositions(ids, images.map((im) => im.grid), imageTokenId, mergeSize);
    const keys: (string | undefined)[] = new Array(ids.length).fill(undefined);
    const rows: number[] = new Array(ids.length).fill(0);
    let img = 0;
    let row = 0;
    for (let p = 0; p < ids.length; p++) {
      if (ids[p] !== imageTokenId) continue;
      const im = images[img]!;
      keys[p] = im.key;
      rows[p] = row++;
      if (row === mergedTokens(im.grid, mergeSize)) (img++, (row = 0));
    }
    this.imageTokens.setPrompt(
      keys,
      rows,
      images.map((im) => [im.key, im] as const),
    );
  }

  /** The rotary positions of cache indices [start, start + n): the prompt's rows, then index + rope_delta. */
  positionsOf(start: number, n: number): { rows: Uint32Array; oneRow: boolean } {
    const { rows: all, delta } = this.rope;
    const S = all.length / 3;
    const rows = new Uint32Array(3 * n);
    let oneRow = true;
    for (let i = 0; i < n; i++) {
      const p = start + i;
      for (let r = 0; r < 3; r++) rows[r * n + i] = p < S ? all[r * S + p]! : p + delta;
      if (rows[n + i] !== rows[i] || rows[2 * n + i] !== rows[i]) oneRow = false;
    }
    return { rows, oneRow };
  }

  forward(ids: ArrayLike<number>, start: number, opts: ForwardOptions = {}): Tensor {
    const n = ids.length;
    const overrides = opts.idFrom ? [...(opts.embeddings ?? [])] : this.imageTokens.overrides(start, n, this.config.text.hiddenSize, opts.embeddings);
    const { rows, oneRow } = this.positionsOf(start, n);
    const plain = oneRow && rows.every((p, i) => i >= n || p === start + i);
    const fwd: ForwardOptions = {
      ...opts,
      ...(overrides.length ? { embeddings: overrides } : {}),
      ...(plain ? {} : oneRow ? { positions: rows.subarray(0, n) } : { mrope: { positions: rows, sections: this.config.mropeSection } }),
    };
    const logits = this.text.forward(ids, start, fwd);
    this.imageTokens.forwarded(start, n, !!opts.idFrom);
    return logits;
  }

  /** The merger's output for one image, read back: [mergedTokens, Ht] (tests, tools). */
  async imageFeatures(pixels: Float32Array, grid: PatchGrid): Promise<Float32Array> {
    const f = this.encode(pixels, grid);
    try {
      return await this.ctx.readF32(f);
    } finally {
      this.ctx.destroyBuffer(f.buffer);
    }
  }

  /** The tower's residual stream before the merger, read back: [t * h * w, D] (tests). */
  async towerOutput(pixels: Float32Array, grid: PatchGrid): Promise<Float32Array> {
    const sc = this.runTower(pixels, grid);
    this.ctx.flush();
    return this.ctx.readF32(sc.s.h);
  }

  private scratchFor(grid: PatchGrid): PatchScratch {
    const n = grid.t * grid.h * grid.w;
    const { ctx } = this;
    const v = this.vis;
    const m = v.mergeSize;
    // The rows depend on the grid, not only on n: rewritten for each image (one frame: runTower checks).
    const { ph, pw } = patchPositions(grid.h, grid.w, m);
    const rows = new Uint32Array(3 * n);
    rows.set(ph, 0);
    rows.set(pw, n);
    rows.set(pw, 2 * n);
    if (this.scratch?.n !== n) {
      this.disposeScratch();
      const s = new VisionScratch(ctx, v, 1, n);
      const positions = ctx.createTensor([3, n], 'u32', 'vision.positions');
      const merged = ctx.createTensor([n / m ** 2, v.hiddenSize * m ** 2], 'f32', 'vision.merged');
      this.scratch = { n, s, positions, merged };
    }
    ctx.write(this.scratch.positions, rows);
    return this.scratch;
  }

  /** Records the tower over one image's patches: its output (before the merger) is left in the scratch's h [n, D]. */
  private runTower(pixels: Float32Array, grid: PatchGrid): PatchScratch {
    const { ctx, tower } = this;
    const v = this.vis;
    const K = v.numChannels * v.patchSize ** 2;
    const n = grid.t * grid.h * grid.w;
    const m = v.mergeSize;
    if (!(n > 0) || grid.h % m !== 0 || grid.w % m !== 0 || pixels.length !== n * K) {
      throw new InvalidArgumentError(`pixel_values hold ${pixels.length} values; a ${grid.t} x ${grid.h} x ${grid.w} grid of patches of ${K} needs ${n * K}`);
    }
    if (grid.t !== 1) throw new InvalidModelError(`a ${grid.t}-frame patch grid (video) is not supported: one image at a time`);
    ctx.flush(); // work recorded before may still read the scratch
    const sc = this.scratchFor(grid);
    ctx.write(sc.s.patches, pixels);
    matmul(ctx, sc.s.patches, tower.patch, sc.s.h);
    const rotary = { positions: sc.positions, invFreq: tower.invFreq };
    for (const l of tower.layers) visionLayer(ctx, v, l, sc.s, rotary);
    return sc;
  }

  /** Records the tower and the merger over one image and submits them; returns [mergedTokens, Ht]. */
  private encode(pixels: Float32Array, grid: PatchGrid): Tensor {
    const { ctx, tower, vis: v } = this;
    const sc = this.runTower(pixels, grid);
    const tokens = mergedTokens(grid, v.mergeSize);
    const M = v.hiddenSize * v.mergeSize ** 2;
    const out = ctx.createTensor([tokens, v.outSize], 'f32', 'image.features');
    // ln_q over each patch, then a merge group's patches (consecutive rows) side by side: [tokens, 4D].
    layerNorm(ctx, sc.s.h, tower.lnQ, tower.lnQBias, sc.s.x, v.eps);
    const grouped = ctx.view(sc.s.x, [tokens, M]);
    matmul(ctx, grouped, tower.fc1, sc.merged, tower.fc1Bias);
    activation(ctx, sc.merged, sc.merged, 'gelu_erf');
    matmul(ctx, sc.merged, tower.fc2, out, tower.fc2Bias);
    ctx.flush(); // the next image's patches must not land before this one's tower ran
    this.imagesEncoded++;
    return out;
  }

  private disposeScratch(): void {
    const sc = this.scratch;
    if (!sc) return;
    for (const t of [...sc.s.tensors(), sc.positions, sc.merged]) this.ctx.destroyBuffer(t.buffer);
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
