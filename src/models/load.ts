import { AbortError, InvalidArgumentError, InvalidModelError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { DType, Tensor } from '../gpu/tensor.js';
import { alignRows, type AttentionWeights } from '../layers/attention.js';
import type { DecoderLayerWeights } from '../layers/decoderLayer.js';
import type { MlaWeights } from '../layers/mla.js';
import type { MlpWeights } from '../layers/mlp.js';
import { isMoe, type MoeWeights } from '../layers/moe.js';
import type { ModelFiles } from '../weights/files.js';
import { loadF32, loadF32Concat, loadMatrix, type MatrixPart } from '../weights/loadTensors.js';
import type { GGUFSource } from '../weights/ggufSource.js';
import type { GGUFTokenizer } from '../weights/ggufTokenizer.js';
import { openSafetensors } from '../weights/safetensors.js';
import type { WeightSource } from '../weights/source.js';
import type { ModelConfig, RawConfig } from './config.js';
import { DecoderModel, type DecoderWeights } from './decoder.js';
import { openGGUFFile } from './gguf.js';
import { loadMlaLayer } from './mlaLoad.js';
import { loadMoeLayer } from './moeLoad.js';
import { defaultMaxChunk } from './chunk.js';
import { normalizeConfig } from './registry.js';
import type { LoadDType, LoadedModel } from './types.js';

export interface LoadModelOptions {
  /** Weights as stored ('auto', the default), as f32 / f16, or quantized at load into Q8_0 / Q4_0. */
  dtype?: LoadDType;
  /** Longest sequence the KV cache holds (default: the config's max_position_embeddings, at most 4096). */
  maxContext?: number;
  /** Longest chunk forwarded at once (default `defaultMaxChunk`: 512, more for MoE models): sets the activation buffers and the sliding-window rings. */
  maxChunk?: number;
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

async function readJson(files: ModelFiles, path: string): Promise<RawConfig> {
  const text = await files.text(path);
  try {
    return JSON.parse(text) as RawConfig;
  } catch (cause) {
    throw new InvalidModelError(`${files.location}/${path} is not valid JSON`, { cause });
  }
}

/** config.json (+ generation_config.json when present) normalised, and the safetensors weights. */
export async function loadWeightsAndConfig(files: ModelFiles): Promise<{ config: ModelConfig; weights: WeightSource }> {
  const raw = await readJson(files, 'config.json');
  const gen = (await files.has('generation_config.json')) ? await readJson(files, 'generation_config.json') : {};
  const config = normalizeConfig(raw, gen, files.location);
  return { config, weights: await openSafetensors(files) };
}

/**
 * A GGUF model among a model's files: the normalised config (from the metadata, as config.json would
 * give it), the weights under HF names, and the tokenizer rebuilt from the metadata.
 */
export async function ggufWeightsAndConfig(files: ModelFiles, path: string): Promise<{ config: ModelConfig; weights: GGUFSource; tokenizer: () => GGUFTokenizer }> {
  const weights = await openGGUFFile(files, path);
  return { config: normalizeConfig(weights.config, {}, weights.location), weights, tokenizer: () => weights.tokenizer() };
}

/** Loads a Hugging Face repo layout (a folder or a URL) onto the GPU. */
export async function loadModel(ctx: GpuContext, files: ModelFiles, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const { config, weights } = await loadWeightsAndConfig(files);
  return buildModel(ctx, config, weights, opts);
}

/** The tensors a config needs, under Hugging Face names, with the shapes the config implies. */
function layerParts(c: ModelConfig, i: number) {
  const p = `model.layers.${i}`;
  const H = c.hiddenSize;
  const nq = c.numHeads * c.headDim;
  const nk = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  const part = (name: string, shape: number[], padRows?: number): MatrixPart => ({ name: `${p}.${name}`, shape, padRows });
  return {
    inputNorm: part('input_layernorm.weight', [H]),
    qkv: [
      part('self_attn.q_proj.weight', [nq, H], alignRows(nq)),
      part('self_attn.k_proj.weight', [nk, H], alignRows(nk)),
      part('self_attn.v_proj.weight', [nk, H], alignRows(nk)),
    ],
    qkvBias: [
      part('self_attn.q_proj.bias', [nq], alignRows(nq)),
      part('self_attn.k_proj.bias', [nk], alignRows(nk)),
      part('self_attn.v_proj.bias', [nk], alignRows(nk)),
    ],
    qNorm: part('self_attn.q_norm.weight', [c.qkNormOverProjection ? nq : c.headDim]),
    kNorm: part('self_attn.k_norm.weight', [c.qkNormOverProjection ? nk : c.headDim]),
    o: part('self_attn.o_proj.weight', [H, nq]),
    oBias: part('self_attn.o_proj.bias', [H]),
    sinks: part('self_attn.sinks', [c.numHeads]),
    // Gemma's post_attention_layernorm normalises the attention output; Llama's is the MLP's input norm.
    postAttnNorm: part('post_attention_layernorm.weight', [H]),
    mlpNorm: part(c.sandwichNorms ? 'pre_feedforward_layernorm.weight' : 'post_attention_layernorm.weight', [H]),
    postMlpNorm: part('post_feedforward_layernorm.weight', [H]),
    gateUp: [part('mlp.gate_proj.weight', [I, H]), part('mlp.up_proj.weight', [I, H])],
    gateUpBias: [part('mlp.gate_proj.bias', [I]), part('mlp.up_proj.bias', [I])],
    down: part('mlp.down_proj.weight', [H, I]),
    downBias: part('mlp.down_proj.bias', [H]),
  };
}

/**
 * Builds the model of a normalised config from any WeightSource under Hugging Face tensor names
 * (safetensors, or GGUF mapped to those names): fuses q|k|v and gate|up at load, converts or quantizes
 * to `dtype`, and allocates the KV cache and activation buffers.
 */
export async function buildModel(ctx: GpuContext, c: ModelConfig, src: WeightSource, opts: LoadModelOptions = {}): Promise<DecoderModel> {
  const dtype = opts.dtype ?? 'auto';
  const maxContext = opts.maxContext ?? Math.min(c.maxPositionEmbeddings, 4096);
  if (!Number.isInteger(maxContext) || maxContext < 1) throw new InvalidArgumentError(`maxContext ${maxContext} is not a positive integer`);
  const maxChunk = Math.min(opts.maxChunk ?? defaultMaxChunk(c), maxContext);
  if (!Number.isInteger(maxChunk) || maxChunk < 1) throw new InvalidArgumentError(`maxChunk ${maxChunk} is not a positive integer`);
  const tied = !src.tensors.has('lm_head.weight');
  if (tied && !c.tieWordEmbeddings) {
    throw new InvalidModelError(`tensor lm_head.weight is missing from the checkpoint (and tie_word_embeddings is false)`);
  }
  const perLayer = Array.from({ length: c.numLayers }, (_, i) => layerParts(c, i));
  const optional = (p: MatrixPart) => (src.tensors.has(p.name) ? p : undefined);
  // Total bytes for progress: every tensor the model reads.
  const used = new Set<string>(['model.embed_tokens.weight', 'model.norm.weight', tied ? '' : 'lm_head.weight']);
  for (const l of perLayer) for (const v of Object.values(l)) for (const p of [v].flat()) if (src.tensors.has(p.name)) used.add(p.name);
  const total = [...used].reduce((a, n) => a + (src.tensors.get(n)?.byteLength ?? 0), 0);
  let loaded = 0;
  const before = ctx.bytesAllocated;
  const onBytes = (n: number) => {
    loaded += n;
    opts.onProgress?.(loaded, total);
  };
  const checkAbort = () => {
    if (opts.signal?.aborted) throw new AbortError('loading the model was aborted');
  };
  const created: Tensor[] = [];
  const track = <T extends Tensor | undefined>(t: T): T => (t && created.push(t), t);
  const matrix = async (parts: MatrixPart[], label: string) => (checkAbort(), track(await loadMatrix(ctx, src, parts, dtype, label, onBytes)));
  const vector = async (p: MatrixPart | undefined, label: string) => (p ? (checkAbort(), track(await loadF32(ctx, src, p, label, onBytes))) : undefined);
  const need = (p: MatrixPart) => p; // required tensors: loadMatrix throws InvalidModelError naming a missing one
  // q's and k's norm weights in one tensor, k's at a 256-byte boundary (src/kernels/ropeKv.ts QkNorm).
  const loadQkNorm = async (q: MatrixPart, k: MatrixPart, label: string) => {
    const [qLen, kLen] = [q.shape[0]!, k.shape[0]!];
    const kOffset = Math.ceil(qLen / 64) * 64;
    checkAbort();
    return { weight: track(await loadF32Concat(ctx, src, [{ ...q, padRows: kOffset }, k], label, onBytes)), qLen, kLen, kOffset };
  };
  const loaders = { matrix, f32: async (p: MatrixPart, label: string) => (await vector(p, label))!, track, dtype };
  try {
    // The weights through the context's staging ring (src/gpu/uploadStaging.ts), destroyed before the model's bytes are counted.
    const dtypes = new Set<DType>();
    const weights = await ctx.withUploadStaging(async (): Promise<DecoderWeights> => {
      const embed = await matrix([{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, c.hiddenSize] }], 'embed');
      const layers: DecoderLayerWeights[] = [];
      dtypes.add(embed.dtype);
      for (let i = 0; i < c.numLayers; i++) {
        const l = perLayer[i]!;
        const biasParts = l.qkvBias.filter((p) => src.tensors.has(p.name));
        if (c.qkvBias && biasParts.length !== 3) throw new InvalidModelError(`tensor ${l.qkvBias.find((p) => !src.tensors.has(p.name))!.name} is missing from the checkpoint`);
        const attn: AttentionWeights | MlaWeights = c.mla ? await loadMlaLayer(ctx, src, c, i, loaders) : {
          qkv: await matrix(l.qkv, `l${i}.qkv`),
          qkvBias: biasParts.length === 3 ? track(await loadF32Concat(ctx, src, biasParts, `l${i}.qkv.bias`)) : undefined,
          qkNorm: c.qkNorm ? await loadQkNorm(l.qNorm, l.kNorm, `l${i}.qk_norm`) : undefined,
          o: await matrix([l.o], `l${i}.o`),
          oBias: await vector(optional(l.oBias), `l${i}.o.bias`),
          sinks: await vector(optional(l.sinks), `l${i}.sinks`),
        };
        const gateUpBias = c.moe && !c.moe.denseLayers[i] ? undefined : l.gateUpBias.every((p) => src.tensors.has(p.name)) ? track(await loadF32Concat(ctx, src, l.gateUpBias, `l${i}.gate_up.bias`)) : undefined;
        const mlp: MlpWeights | MoeWeights = c.moe && !c.moe.denseLayers[i] ? await loadMoeLayer(ctx, src, c, i, loaders) : {
          gateUp: await matrix(l.gateUp, `l${i}.gate_up`),
          gateUpBias,
          down: await matrix([l.down], `l${i}.down`),
          downBias: await vector(optional(l.downBias), `l${i}.down.bias`),
        };
        for (const t of [attn.o, isMoe(mlp) ? mlp.experts.down : mlp.down]) dtypes.add(t.dtype);
        layers.push({
          inputNorm: (await vector(need(l.inputNorm), `l${i}.input_norm`))!,
          attn,
          postAttnNorm: c.sandwichNorms ? await vector(need(l.postAttnNorm), `l${i}.post_attn_norm`) : undefined,
          mlpNorm: (await vector(need(l.mlpNorm), `l${i}.mlp_norm`))!,
          mlp,
          postMlpNorm: c.sandwichNorms ? await vector(need(l.postMlpNorm), `l${i}.post_mlp_norm`) : undefined,
        });
      }
      const norm = (await vector({ name: 'model.norm.weight', shape: [c.hiddenSize] }, 'norm'))!;
      const lmHead = tied ? embed : await matrix([{ name: 'lm_head.weight', shape: [c.vocabSize, c.hiddenSize] }], 'lm_head');
      dtypes.add(lmHead.dtype);
      return { embed, layers, norm, lmHead };
    });
    checkAbort(); // an abort while the last staged reads landed
    const weightDType = dtypes.size === 1 ? [...dtypes][0]! : 'mixed';
    return new DecoderModel(ctx, c, weights, { maxContext, maxChunk }, weightDType, ctx.bytesAllocated - before);
  } catch (err) {
    for (const b of new Set(created.map((t) => t.buffer))) ctx.destroyBuffer(b);
    throw err;
  }
}
