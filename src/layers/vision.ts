import { InvalidArgumentError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { attention } from '../kernels/attention.js';
import { activation, add, type Activation } from '../kernels/elementwise.js';
import { matmul } from '../kernels/matmul.js';
import { layerNorm } from '../kernels/norm.js';
import { rope } from '../kernels/rope.js';

/** A ViT encoder (CLIP's vision tower) and the sizes its forward pass needs. */
export interface VisionDims {
  readonly hiddenSize: number; // D
  readonly intermediateSize: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly imageSize: number;
  readonly patchSize: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly activation: Activation;
  /** CLIP's class token leads the sequence (default); SigLIP has none. */
  readonly classToken?: boolean;
}

export interface VisionLayerWeights {
  readonly ln1: Tensor; // [D] f32
  readonly ln1Bias: Tensor; // [D] f32
  readonly q: Tensor; // [D, D]
  readonly qBias: Tensor; // [D] f32
  readonly k: Tensor; // [D, D]
  readonly kBias: Tensor;
  readonly v: Tensor; // [D, D]
  readonly vBias: Tensor;
  readonly o: Tensor; // [D, D]
  readonly oBias: Tensor;
  readonly ln2: Tensor;
  readonly ln2Bias: Tensor;
  readonly fc1: Tensor; // [I, D]
  readonly fc1Bias: Tensor; // [I] f32
  readonly fc2: Tensor; // [D, I]
  readonly fc2Bias: Tensor; // [D] f32
}

export interface VisionWeights {
  /** The patch convolution as a matrix: [D, C * p * p] (columns in (c, ky, kx) order, no bias). */
  readonly patch: Tensor;
  /** Position embeddings per row of the scratch: [N, D] f32 (CLIP: the class embedding added to row 0). */
  readonly positions: Tensor;
  readonly preNorm?: Tensor; // [D] f32 (CLIP's pre_layrnorm)
  readonly preNormBias?: Tensor;
  /** The layers that run: up to the one whose output is the selected feature layer. */
  readonly layers: readonly VisionLayerWeights[];
}

export const patchesPerImage = (d: VisionDims) => (d.imageSize / d.patchSize) ** 2;

/**
 * 2-D rotary of a tower whose patches rotate q and k by their (h, w) place (Qwen2-VL): the rope kernel's M-RoPE
 * form with rows (h, w, w) and sections (headDim / 4, headDim / 4, 0), invFreq one axis's frequencies twice.
 */
export interface VisionRotary {
  readonly positions: Tensor; // [3, N] u32
  readonly invFreq: Tensor; // [headDim / 2] f32
}

/** Rows of one image's sequence: its patches, plus the class token where the tower has one. */
export const tokensPerTile = (d: VisionDims) => patchesPerImage(d) + (d.classToken === false ? 0 : 1);

/**
 * The patch matrix of one image for the patch embedding GEMM: pixels [C, S, S] f32 (S = imageSize) →
 * [1 + P, C * p * p], row 0 zeros (the class token's slot: the GEMM leaves it 0 and the position table
 * adds the class embedding), row 1 + (py * S/p + px) the patch at (py, px) in (c, ky, kx) order, as a
 * Conv2d weight [D, C, p, p] flattens. Without a class token: [P, C * p * p], no zero row.
 */
export function unfoldPatches(pixels: Float32Array, d: VisionDims): Float32Array {
  const { imageSize: S, patchSize: p, numChannels: C } = d;
  if (pixels.length !== C * S * S) throw new InvalidArgumentError(`pixel_values hold ${pixels.length} values; the vision tower takes [${C}, ${S}, ${S}]`);
  const n = S / p;
  const K = C * p * p;
  const first = d.classToken === false ? 0 : 1;
  const out = new Float32Array((first + n * n) * K);
  for (let py = 0; py < n; py++) {
    for (let px = 0; px < n; px++) {
      const row = (first + py * n + px) * K;
      for (let c = 0; c < C; c++) {
        for (let ky = 0; ky < p; ky++) {
          const src = (c * S + py * p + ky) * S + px * p;
          out.set(pixels.subarray(src, src + p), row + (c * p + ky) * p);
        }
      }
    }
  }
  return out;
}

/**
 * Activation buffers of the encoder for `images` images at once (N = images * L rows, L = tokensPerTile),
 * allocated once. Each image attends within its own L rows.
 */
export class VisionScratch {
  readonly seqLen: number; // L
  readonly patches: Tensor; // [N, C * p * p]
  readonly h: Tensor; // [N, D] residual stream
  readonly x: Tensor; // [N, D] normed
  readonly q: Tensor; // [N, D]
  readonly k: Tensor;
  readonly v: Tensor;
  readonly attn: Tensor; // [N, D]
  readonly delta: Tensor; // [N, D]
  readonly mid: Tensor; // [N, I]
  /** `seqLen`: rows of one image (default tokensPerTile: a tower of one image size). */
  constructor(ctx: GpuContext, d: VisionDims, images = 1, seqLen = tokensPerTile(d)) {
    this.seqLen = seqLen;
    const N = images * this.seqLen;
    const D = d.hiddenSize;
    this.patches = ctx.createTensor([N, d.numChannels * d.patchSize ** 2], 'f32', 'vision.patches');
    const t = (label: string, cols = D) => ctx.createTensor([N, cols], 'f32', `vision.${label}`);
    this.h = t('h');
    this.x = t('x');
    this.q = t('q');
    this.k = t('k');
    this.v = t('v');
    this.attn = t('attn');
    this.delta = t('delta');
    this.mid = t('mid', d.intermediateSize);
  }

  tensors(): Tensor[] {
    return [this.patches, this.h, this.x, this.q, this.k, this.v, this.attn, this.delta, this.mid];
  }
}

/**
 * One pre-norm encoder block over h [N, D] in place: h += out_proj(attention(ln1(h))) with no causal
 * mask (each image of s.seqLen rows on its own; q and k turned by `rotary` where given), then
 * h += fc2(act(fc1(ln2(h)))).
 */
export function visionLayer(ctx: GpuContext, d: VisionDims, w: VisionLayerWeights, s: VisionScratch, rotary?: VisionRotary): void {
  const N = s.h.shape[0]!;
  const { numHeads: nH, headDim: hd } = d;
  layerNorm(ctx, s.h, w.ln1, w.ln1Bias, s.x, d.eps);
  matmul(ctx, s.x, w.q, s.q, w.qBias);
  matmul(ctx, s.x, w.k, s.k, w.kBias);
  matmul(ctx, s.x, w.v, s.v, w.vBias);
  if (rotary) {
    const q4 = hd / 4;
    const o = { layout: 'neox', rotaryDim: hd, mropeSections: [q4, q4, 0] } as const;
    rope(ctx, ctx.view(s.q, [N, nH, hd]), rotary.positions, rotary.invFreq, o);
    rope(ctx, ctx.view(s.k, [N, nH, hd]), rotary.positions, rotary.invFreq, o);
  }
  const L = s.seqLen;
  for (let r = 0; r < N; r += L) {
    const heads = (t: Tensor) => ctx.view(t, [L, nH, hd], r * d.hiddenSize * 4);
    attention(ctx, heads(s.q), heads(s.k), heads(s.v), heads(s.attn), { startPos: 0, scale: 1 / Math.sqrt(hd), causal: false });
  }
  matmul(ctx, s.attn, w.o, s.delta, w.oBias);
  add(ctx, s.h, s.delta, s.h);
  layerNorm(ctx, s.h, w.ln2, w.ln2Bias, s.x, d.eps);
  matmul(ctx, s.x, w.fc1, s.mid, w.fc1Bias);
  activation(ctx, s.mid, s.mid, d.activation);
  matmul(ctx, s.mid, w.fc2, s.delta, w.fc2Bias);
  add(ctx, s.h, s.delta, s.h);
}

/**
 * Records the vision tower over the images' patches (already written to s.patches): patch GEMM, class
 * token + positions, pre-norm, the layers. The selected hidden state is left in s.h [N, D].
 */
export function visionEncoder(ctx: GpuContext, d: VisionDims, w: VisionWeights, s: VisionScratch): void {
  matmul(ctx, s.patches, w.patch, s.h);
  add(ctx, s.h, w.positions, s.h);
  if (w.preNorm) layerNorm(ctx, s.h, w.preNorm, w.preNormBias, s.h, d.eps);
  for (const l of w.layers) visionLayer(ctx, d, l, s);
}
