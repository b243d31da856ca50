import type { GpuContext } from '../gpu/context.js';
import type { DType, Tensor } from '../gpu/tensor.js';
import type { VisionLayerWeights } from '../layers/vision.js';
import { InvalidModelError } from '../errors.js';
import { loadF32, loadMatrix, toF32, type MatrixPart } from '../weights/loadTensors.js';
import type { WeightSource } from '../weights/source.js';
import type { DecoderModel } from './decoder.js';
import type { ModelConfig } from './config.js';
import { buildModel, type LoadModelOptions } from './load.js';

/**
 * A vision-language model's loading: its text decoder first, then its own tensors through the loaders here, with
 * one progress count over both (`visionBytes`: the bytes of the tensors the vision part will read). `fail` frees
 * what was loaded (the vision tensors and the decoder) and rethrows.
 */
export interface VisionLoad {
  readonly text: DecoderModel;
  /** A matrix in the load's dtype (quantized where asked), or as stored. */
  mat(name: string, shape: number[]): Promise<Tensor>;
  /** A vector as f32 on the GPU. */
  vec(name: string, n: number): Promise<Tensor>;
  /** A vector as f32 on the GPU, where the checkpoint has it. */
  optVec(name: string, n: number): Promise<Tensor | undefined>;
  /** A tensor as f32 on the CPU (to be combined before upload). */
  f32(name: string, shape: number[]): Promise<Float32Array>;
  /** Keeps an uploaded tensor with the others (freed by `fail`). */
  keep(t: Tensor): Tensor;
  /** The vision part's tensors, its GPU bytes, and the dtype of all matrices (text and vision), 'mixed' where they differ. */
  done(): { created: Tensor[]; weightBytes: number; dtype: DType | 'mixed' };
  fail(err: unknown): never;
}

export async function loadTextThenVision(
  ctx: GpuContext,
  textConfig: ModelConfig,
  textSource: WeightSource,
  src: WeightSource,
  visionBytes: number,
  opts: LoadModelOptions,
): Promise<VisionLoad> {
  let textTotal = 0;
  const report = opts.onProgress;
  const text = await buildModel(ctx, textConfig, textSource, {
    ...opts,
    onProgress: report && ((l, t) => ((textTotal = t), report(l, t + visionBytes))),
  });
  const before = ctx.bytesAllocated;
  const created: Tensor[] = [];
  const matrixDTypes = new Set<DType | 'mixed'>([text.info.weightDType]);
  let loaded = 0;
  const onBytes = report && ((n: number) => report(textTotal + (loaded += n), textTotal + visionBytes));
  const dtype = opts.dtype ?? 'auto';
  const part = (name: string, shape: number[]): MatrixPart => ({ name, shape });
  const keep = (t: Tensor) => (created.push(t), t);
  const vec = async (name: string, n: number) => keep(await loadF32(ctx, src, part(name, [n]), name, onBytes));
  return {
    text,
    keep,
    vec,
    async mat(name, shape) {
      const t = keep(await loadMatrix(ctx, src, [part(name, shape)], dtype, name, onBytes));
      matrixDTypes.add(t.dtype);
      return t;
    },
    optVec: async (name, n) => (src.tensors.has(name) ? vec(name, n) : undefined),
    async f32(name, shape) {
      const info = src.tensors.get(name);
      if (!info) throw new InvalidModelError(`tensor ${name} is missing from the checkpoint`);
      const n = shape.reduce((a, b) => a * b, 1);
      if (info.shape.reduce((a, b) => a * b, 1) !== n) throw new InvalidModelError(`tensor ${name} has shape [${info.shape}] but the config implies [${shape}]`);
      const bytes = await src.read(name);
      onBytes?.(bytes.byteLength);
      return toF32(bytes, info.dtype, n);
    },
    done: () => ({ created, weightBytes: ctx.bytesAllocated - before, dtype: matrixDTypes.size === 1 ? [...matrixDTypes][0]! : 'mixed' }),
    fail(err) {
      for (const t of created) ctx.destroyBuffer(t.buffer);
      text.dispose();
      throw err;
    },
  };
}

/** `n` pre-norm encoder layers of CLIP / SigLIP naming under `prefix` (`encoder.layers.i.`): width D, MLP width I. */
export async function loadEncoderLayers(load: VisionLoad, prefix: string, n: number, D: number, I: number): Promise<VisionLayerWeights[]> {
  const { mat, vec } = load;
  const layers: VisionLayerWeights[] = [];
  for (let i = 0; i < n; i++) {
    const l = `${prefix}encoder.layers.${i}.`;
    layers.push({
      ln1: await vec(`${l}layer_norm1.weight`, D),
      ln1Bias: await vec(`${l}layer_norm1.bias`, D),
      q: await mat(`${l}self_attn.q_proj.weight`, [D, D]),
      qBias: await vec(`${l}self_attn.q_proj.bias`, D),
      k: await mat(`${l}self_attn.k_proj.weight`, [D, D]),
      kBias: await vec(`${l}self_attn.k_proj.bias`, D),
      v: await mat(`${l}self_attn.v_proj.weight`, [D, D]),
      vBias: await vec(`${l}self_attn.v_proj.bias`, D),
      o: await mat(`${l}self_attn.out_proj.weight`, [D, D]),
      oBias: await vec(`${l}self_attn.out_proj.bias`, D),
      ln2: await vec(`${l}layer_norm2.weight`, D),
      ln2Bias: await vec(`${l}layer_norm2.bias`, D),
      fc1: await mat(`${l}mlp.fc1.weight`, [I, D]),
      fc1Bias: await vec(`${l}mlp.fc1.bias`, I),
      fc2: await mat(`${l}mlp.fc2.weight`, [D, I]),
      fc2Bias: await vec(`${l}mlp.fc2.bias`, D),
    });
  }
  return layers;
}
