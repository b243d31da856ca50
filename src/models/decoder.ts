import { InvalidArgumentError } from '../errors.js';
import { CapturedStep, POSITION } from '../gpu/capture.js';
import type { GpuContext } from '../gpu/context.js';
import type { DType, Tensor } from '../gpu/tensor.js';
import { scale, softcap } from '../kernels/elementwise.js';
import { embedding } from '../kernels/embedding.js';
import { gemvReadsPlanes, matmul } from '../kernels/matmul.js';
import { rmsNorm } from '../kernels/norm.js';
import { createXPlanes } from '../kernels/xPlanes.js';
import { AttentionScratch, type AttentionDims } from '../layers/attention.js';
import { decoderLayer, fusedDecoderLayer, layerFuses, type DecoderLayerRun, type DecoderLayerWeights } from '../layers/decoderLayer.js';
import { MlaScratch } from '../layers/mla.js';
import { MlpScratch } from '../layers/mlp.js';
import { MoeScratch, tensorsOf } from '../layers/moe.js';
import type { LayerKind, ModelConfig } from './config.js';
import { overrideEmbeddings } from './embeddingOverride.js';
import { KvCache } from './kvCache.js';
import { ropeParameters, ropeTable } from './ropeTable.js';
import type { ForwardOptions, LoadedModel, ModelInfo } from './types.js';

export interface DecoderWeights {
  readonly embed: Tensor; // [V, H]
  readonly layers: readonly DecoderLayerWeights[];
  readonly norm: Tensor; // [H]
  /** [V, H]; the embedding itself when tied. */
  readonly lmHead: Tensor;
}

export interface DecoderOptions {
  readonly maxContext: number;
  /** Longest chunk of tokens forwarded at once; longer inputs go in chunks. */
  readonly maxChunk: number;
}

/** A hook that sees the residual stream: layer 0 is the embedding output, layer i the output of layer i - 1. */
export type HiddenHook = (layer: number, h: Tensor) => void;

/**
 * A decoder-only transformer on the GPU (llama, qwen2, qwen3, mistral, gemma3_text): the forward pass over
 * shared layers, a per-layer KV cache, and activation buffers allocated once for the longest chunk.
 * A forward of one chunk records one command encoder and submits nothing except what was recorded before
 * it; a longer input submits each chunk but the last as soon as it is recorded.
 */
export class DecoderModel implements LoadedModel {
  readonly info: ModelInfo;
  private readonly kv: KvCache;
  private readonly run: DecoderLayerRun;
  private readonly rope: Record<LayerKind, { invFreq: Tensor; attentionFactor: number }>;
  private readonly ids: Tensor; // [chunks, Cp] u32: chunk c at row c, rows padded to 64 (256-byte views)
  private readonly positions: Tensor; // [chunks, Cp] u32
  private mropePositions: Tensor | undefined; // [chunks, 3, Cp] u32: M-RoPE's rows t, h, w of each chunk, made on first use
  private readonly chunkStride: number; // Cp
  private readonly h: Tensor; // [C, H]
  private readonly x: Tensor; // [C, H]
  private readonly delta: Tensor; // [C, H]
  private readonly lastX: Tensor; // [1, H]
  private readonly xPlanes?: Tensor; // x [1, H] in planes (decode)
  /** Which decode GEMVs read x in planes: each layer's q|k|v and gate|up, and the head. */
  private readonly planeReaders: { qkv: boolean[]; gateUp: boolean[]; head: boolean };
  /** Layers that a decode token runs with their norms and residual adds fused into the GEMVs (layerFuses). */
  private readonly fusedLayers: boolean[];
  private readonly logits1: Tensor; // [1, V]
  private logitsAll: Tensor | undefined; // [n, V], grown on demand
  private logitsChunk: Tensor | undefined; // [C, V]: a chunk's logits when its rows of logitsAll are not 256-byte aligned
  /** Debug: called with the residual stream after the embedding and after every layer. */
  hiddenHook: HiddenHook | undefined;
  /** A decode token's forward, recorded once and replayed at later positions (src/gpu/capture.ts). */
  readonly decodeStep: CapturedStep;

  constructor(
    readonly ctx: GpuContext,
    readonly config: ModelConfig,
    private readonly weights: DecoderWeights,
    opts: DecoderOptions,
    weightDType: DType | 'mixed',
    weightBytes: number,
  ) {
    const c = config;
    const C = opts.maxChunk;
    const before = ctx.bytesAllocated;
    // MLA caches one latent row per token: [kv_lora_rank + rope dim], no separate values.
    const mlaKv = c.mla && { ...c, numKvHeads: 1, headDim: c.mla.kvLoraRank + c.mla.ropeDim, headDimV: 1 };
    this.kv = new KvCache(ctx, mlaKv || c, opts.maxContext, C);
    const dims: AttentionDims = {
      numHeads: c.numHeads,
      numKvHeads: c.numKvHeads,
      headDim: c.headDim,
      rotaryDim: c.rotaryDim,
      ropeLayout: c.ropeLayout,
      scale: c.attentionScale,
      softcap: c.attnLogitSoftcap,
      normEps: c.rmsNormEps,
      normWeightOffset: c.normWeightOffset,
    };
    this.run = {
      dims,
      activation: c.activation,
      eps: c.rmsNormEps,
      normWeightOffset: c.normWeightOffset,
      attnScratch: new AttentionScratch(ctx, dims, C),
      mlpScratch: new MlpScratch(ctx, c.intermediateSize, C),
      moe: c.moe && { settings: c.moe, scratch: new MoeScratch(ctx, c.moe, C) },
      mla: c.mla && { dims: c.mla, scratch: new MlaScratch(ctx, c.mla, C) },
      attnResidualScale: c.residualScale,
    };
    const table = (kind: LayerKind) => {
      const t = ropeTable(ropeParameters({ ...c.raw, rope_parameters: c.rope[kind], head_dim: c.headDim }), c.rotaryDim, opts.maxContext);
      return { invFreq: ctx.upload(t.invFreq, [t.invFreq.length], 'f32', `rope.${kind}`), attentionFactor: t.attentionFactor };
    };
    this.rope = { full: table('full'), sliding: c.layerTypes.includes('sliding') ? table('sliding') : table('full') };
    const H = c.hiddenSize;
    this.chunkStride = Math.ceil(C / 64) * 64;
    const chunks = Math.ceil(opts.maxContext / C);
    this.ids = ctx.createTensor([chunks * this.chunkStride], 'u32', 'ids');
    this.positions = ctx.createTensor([chunks * this.chunkStride], 'u32', 'positions');
    this.h = ctx.createTensor([C, H], 'f32', 'h');
    this.x = ctx.createTensor([C, H], 'f32', 'x');
    this.delta = ctx.createTensor([C, H], 'f32', 'delta');
    this.lastX = ctx.createTensor([1, H], 'f32', 'lastX');
    // x in planes for decode, where a GEMV that reads x takes them (src/kernels/xPlanes.ts).
    const reads = (t: Tensor | undefined) => H % 64 === 0 && !!t && gemvReadsPlanes(ctx, t);
    this.planeReaders = {
      qkv: weights.layers.map((l) => reads('qkv' in l.attn ? l.attn.qkv : undefined)),
      gateUp: weights.layers.map((l) => reads('gateUp' in l.mlp ? l.mlp.gateUp : undefined)),
      head: reads(weights.lmHead),
    };
    const r = this.planeReaders;
    if (r.head || r.qkv.includes(true) || r.gateUp.includes(true)) this.xPlanes = createXPlanes(ctx, H);
    this.fusedLayers = weights.layers.map((l) => layerFuses(ctx, this.run, l));
    this.logits1 = ctx.createTensor([1, c.vocabSize], 'f32', 'logits');
    this.decodeStep = new CapturedStep(ctx);
    this.info = {
      modelType: c.modelType,
      vocabSize: c.vocabSize,
      maxContext: opts.maxContext,
      eosTokenIds: c.eosTokenIds,
      bosTokenId: c.bosTokenId,
      weightDType,
      weightBytes,
      gpuBytes: weightBytes + ctx.bytesAllocated - before,
    };
  }

  get cachedLength(): number {
    return this.kv.length;
  }

  /** Whether a forward at `start` is possible: a sliding-window ring cannot rewind past what it overwrote. */
  canForwardAt(start: number): boolean {
    return this.kv.canForwardAt(start);
  }

  async prepareDecode(): Promise<void> {
    if (this.kv.length !== 0) return;
    const last = this.kv.maxContext - 1;
    try {
      for (const position of last > 0 ? [0, last] : [0]) {
        // The slots before `position` hold what the GPU zeroed or an earlier step left: read, never used after.
        this.kv.length = position;
        await this.ctx.read(this.forward([0], position), 4);
      }
    } finally {
      this.kv.length = 0;
    }
  }

  /** The KV cache (read by tests of the cache policy). */
  get cache(): KvCache {
    return this.kv;
  }

  forward(ids: ArrayLike<number>, start: number, opts: ForwardOptions = {}): Tensor {
    const { ctx, config: c, weights: w } = this;
    const n = ids.length;
    if (opts.idFrom && n !== 1) throw new InvalidArgumentError(`forward: idFrom feeds one token, got ${n} ids`);
    if (opts.positions && opts.positions.length !== n) throw new InvalidArgumentError(`forward: ${opts.positions.length} positions for ${n} ids`);
    const rotary = opts.mrope?.positions ?? opts.positions; // row 0 of M-RoPE's rows: the positions of the plain rope
    if (opts.mrope && opts.mrope.positions.length !== 3 * n) throw new InvalidArgumentError(`forward: ${opts.mrope.positions.length} M-RoPE positions for 3 rows of ${n} ids`);
    this.kv.check(start, n);
    ctx.flush(); // what was recorded before must run before the writes below land
    const C = this.h.shape[0]!;
    const H = c.hiddenSize;
    const V = c.vocabSize;
    const Cp = this.chunkStride;
    const chunks = Math.ceil(n / C);
    const idData = new Uint32Array(chunks * Cp);
    const posData = new Uint32Array(chunks * Cp);
    for (let i = 0; i < n; i++) {
      const at = Math.floor(i / C) * Cp + (i % C);
      idData[at] = ids[i]!;
      posData[at] = rotary ? rotary[i]! : start + i;
    }
    ctx.write(this.ids, idData);
    ctx.write(this.positions, posData);
    if (opts.mrope) {
      const rows = new Uint32Array(chunks * 3 * Cp);
      for (let i = 0; i < n; i++) for (let r = 0; r < 3; r++) rows[(Math.floor(i / C) * 3 + r) * Cp + (i % C)] = opts.mrope.positions[r * n + i]!;
      this.mropePositions ??= ctx.createTensor([this.positions.shape[0]! * 3], 'u32', 'mropePositions');
      ctx.write(this.mropePositions, rows);
    }
    // One decode token: the step captured at an earlier position replayed where it still holds, else recorded and captured.
    const capture = n === 1 && plainDecode(opts) && !this.hiddenHook ? this.decodeStep : undefined;
    if (capture?.replay([opts.idFrom?.buffer, opts.idFrom?.offset, JSON.stringify(ctx.kernelOverrides)], { [POSITION]: start })) {
      this.kv.length = start + 1;
      return this.logits1;
    }
    capture?.begin();
    if (opts.idFrom) ctx.copy(opts.idFrom, this.ids, 4); // lands after the write: the command runs after it
    let logits = this.logits1;
    if (opts.allLogits) {
      if (!this.logitsAll || this.logitsAll.shape[0]! < n) {
        if (this.logitsAll) ctx.destroyBuffer(this.logitsAll.buffer);
        this.logitsAll = ctx.createTensor([Math.max(n, C), V], 'f32', 'logitsAll');
      }
      logits = ctx.view(this.logitsAll, [n, V]);
    }
    this.kv.length = start;
    for (let off = 0; off < n; off += C) {
      const T = Math.min(C, n - off);
      const row = (off / C) * Cp * 4;
      const mrope = opts.mrope && { positions: ctx.view(this.mropePositions!, [3, Cp], 3 * row), sections: opts.mrope.sections };
      const step = { T, start: start + off, positions: ctx.view(this.positions, [T], row), ...(mrope ? { mrope } : {}) };
      const h = ctx.view(this.h, [T, H]);
      const x = ctx.view(this.x, [T, H]);
      const delta = ctx.view(this.delta, [T, H]);
      embedding(ctx, ctx.view(this.ids, [T], row), w.embed, h, c.embedScale);
      if (opts.embeddings) overrideEmbeddings(ctx, h, off, T, opts.embeddings);
      this.hiddenHook?.(0, h);
      // Decode: a norm also writes x in planes where the GEMV after it reads them.
      const pr = this.planeReaders;
      const planes = (reads: boolean | undefined) => (T === 1 && reads ? this.xPlanes : undefined);
      // A fused layer (decode) leaves x unset: a layer after it that is not fused normalises h itself.
      let xReady = false;
      for (let i = 0; i < w.layers.length; i++) {
        const next = w.layers[i + 1]?.inputNorm ?? w.norm;
        const kv = this.kv.layers[i]!;
        const rope = this.rope[c.layerTypes[i]!];
        if (T === 1 && this.fusedLayers[i]) {
          fusedDecoderLayer(ctx, this.run, w.layers[i]!, kv, rope, step, h, x);
          xReady = false;
        } else {
          if (!xReady) rmsNorm(ctx, h, w.layers[i]!.inputNorm, x, c.rmsNormEps, c.normWeightOffset, planes(pr.qkv[i]));
          const lp = { attn: planes(pr.qkv[i]), mlp: planes(pr.gateUp[i]), next: planes(i + 1 < w.layers.length ? pr.qkv[i + 1] : pr.head) };
          decoderLayer(ctx, this.run, w.layers[i]!, kv, rope, step, h, x, delta, next, lp);
          xReady = true;
        }
        this.hiddenHook?.(i + 1, h);
      }
      if (!xReady) rmsNorm(ctx, h, w.norm, x, c.rmsNormEps, c.normWeightOffset, planes(pr.head));
      this.kv.length = start + off + T;
      if (opts.allLogits) {
        if ((off * V * 4) % 256 === 0) {
          this.head(x, ctx.view(logits, [T, V], off * V * 4));
        } else {
          this.logitsChunk ??= ctx.createTensor([C, V], 'f32', 'logitsChunk');
          this.head(x, ctx.view(this.logitsChunk, [T, V]));
          ctx.copy(this.logitsChunk, { buffer: logits.buffer, offset: logits.offset + off * V * 4 }, T * V * 4);
        }
      } else if (off + T === n) {
        const aligned = ((T - 1) * H * 4) % 256 === 0;
        const last = aligned ? ctx.view(x, [1, H], (T - 1) * H * 4) : this.lastX;
        if (!aligned) ctx.copy({ buffer: x.buffer, offset: x.offset + (T - 1) * H * 4, size: H * 4 }, this.lastX, H * 4);
        this.head(last, logits, planes(pr.head));
      }
      // A long prompt: each chunk goes to the GPU once recorded, so that it runs while the next one is recorded.
      if (off + T < n) ctx.flush();
    }
    capture?.end();
    return logits;
  }

  private head(x: Tensor, out: Tensor, xPlanes?: Tensor): void {
    matmul(this.ctx, x, this.weights.lmHead, out, undefined, xPlanes);
    const divisor = this.config.logitsDivisor;
    if (divisor !== undefined) scale(this.ctx, out, out, 1 / divisor);
    if (this.config.finalLogitSoftcap) softcap(this.ctx, out, out, this.config.finalLogitSoftcap);
  }

  /** Frees the weights, the cache and the activation buffers. */
  dispose(): void {
    const { ctx, weights: w } = this;
    const tensors: (Tensor | undefined)[] = [w.embed, w.lmHead, w.norm, this.ids, this.positions, this.h, this.x, this.delta];
    tensors.push(this.mropePositions, this.lastX, this.xPlanes, this.logits1, this.logitsAll, this.logitsChunk, this.rope.full.invFreq, this.rope.sliding.invFreq);
    for (const l of w.layers) {
      tensors.push(l.inputNorm, l.postAttnNorm, l.mlpNorm, l.postMlpNorm, ...tensorsOf(l.attn), ...tensorsOf(l.mlp));
    }
    const s = this.run;
    tensors.push(s.attnScratch.q, s.attnScratch.k, s.attnScratch.v, s.attnScratch.qkv1, s.attnScratch.out);
    tensors.push(s.mlpScratch.gateUp, s.mlpScratch.act, ...(s.moe?.scratch.tensors() ?? []), ...(s.mla?.scratch.tensors() ?? []));
    for (const b of new Set(tensors.filter((t) => t).map((t) => t!.buffer))) ctx.destroyBuffer(b);
    this.kv.destroy(ctx);
  }
}

/** Options a captured decode step replays: idFrom (in its key), positions, and nothing else, so that a new option is never replayed past. */
function plainDecode(opts: ForwardOptions): boolean {
  for (const k in opts) {
    const v = opts[k as keyof ForwardOptions];
    // positions land in the positions buffer before the replay, like the ids: a step that only moves them replays.
    if (k !== 'idFrom' && k !== 'positions' && v !== undefined && v !== false) return false;
  }
  return true;
}
