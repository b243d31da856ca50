import type { SubgroupMatrixShape } from './subgroupMatrix.js';
import { DeviceLostError, GpuOutOfMemoryError, ShaderError, WebLMError } from '../errors.js';
import { BufferPool } from './bufferPool.js';
import { OP_COPY, OP_DISPATCH, StepCapture, StepRecording, type StepInputs, type StepReplayer } from './capture.js';
import type { KernelOverrides } from './kernelOverrides.js';
import type { Params } from './params.js';
import { PipelineCache, type Pipeline, type PipelineKey } from './pipelineCache.js';
import type { PollThrottle } from './pollThrottle.js';
import { sleep, type ReadPacer } from './readPacer.js';
import { tensorBytes, type DType, type Tensor } from './tensor.js';
import { UploadStaging, uploadStaging } from './uploadStaging.js';

/** What a kernel binds: a tensor, a whole buffer, or a byte range of one. */
export type Binding = Tensor | GPUBuffer | { readonly buffer: GPUBuffer; readonly offset?: number; readonly size?: number };

export interface GpuFeatures {
  readonly timestampQuery: boolean;
  /** WGSL's dot4I8Packed / pack4xI8 (language feature packed_4x8_integer_dot_product). */
  readonly packedDot: boolean;
  /**
   * The f16 x f16 -> f32 subgroup-matrix (cooperative matrix, tensor core) shape the prefill GEMM uses, where
   * the adapter exposes chromium-experimental-subgroup-matrix (Dawn: allow_unsafe_apis) with shader-f16.
   */
  readonly subgroupMatrix?: SubgroupMatrixShape;
  /** The i8 x i8 -> i32 subgroup-matrix shape the int8 prefill GEMM uses (the same feature, no shader-f16 needed). */
  readonly subgroupMatrixInt8?: SubgroupMatrixShape;
}

const PARAM_SLOT = 256; // minUniformBufferOffsetAlignment is at most 256 on every adapter
const PARAM_SLOTS = 4096;
// Read at call time: in Node the GPUBufferUsage global exists only once Dawn is loaded.
const storageUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/**
 * Loads pace their uploads in windows of this many bytes written or allocated (`uploadCheckpoint`): the
 * writes of a window are submitted, at most two windows are in flight (so the driver's staging memory, two
 * windows at most, is reused instead of growing with the model), and allocation errors are checked once per
 * window. 0: never wait (benchmarks compare). Tests lower it. `maxWriteBytes`: a queue write larger than this
 * is made as several (Dawn stages writes of up to 4 MiB in reused ring buffers, larger ones in a staging buffer
 * allocated for each); 0: never split.
 */
export const uploadPacing = { windowBytes: 64 * 1024 * 1024, maxWriteBytes: 2 * 1024 * 1024 };

/**
 * The engine's handle on a GPUDevice. Kernels record into one command encoder and one compute pass;
 * `flush()` submits it. Uniform parameters of every dispatch go into one arena buffer, written once per
 * submit, and bind groups are cached by what they bind, so re-encoding the same step (a decode token)
 * creates no new GPU objects.
 */
export class GpuContext implements StepReplayer {
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;
  readonly limits: GPUSupportedLimits;
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  /** The pipeline and bind group last set on `pass`: a dispatch skips setting them again. */
  private passPipeline: GPUComputePipeline | undefined;
  private passGroup: GPUBindGroup | undefined;
  /** Timestamp writes for the next pass opened (`timedPass`). */
  private nextPassTimestamps: GPUComputePassTimestampWrites | undefined;
  private readonly paramArena: GPUBuffer;
  private readonly paramStaging = new Uint8Array(PARAM_SLOT * PARAM_SLOTS);
  private readonly paramWords = new Uint32Array(this.paramStaging.buffer);
  private readonly paramFloats = new Float32Array(this.paramStaging.buffer);
  /** The step being captured (src/gpu/capture.ts). */
  private capture: StepCapture | undefined;
  /**
   * Steps captured once and replayed (src/gpu/capture.ts: a model's decode token, a sampler's draw); false:
   * every step is recorded through the kernels afresh. A debug switch: tests compare the two.
   */
  replay = true;
  /** Shapes and paths the kernels take instead of their own choice (bench/ and tests; undefined in shipping use). */
  kernelOverrides: KernelOverrides | undefined = undefined;
  private paramSlot = 0;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private failure: WebLMError | undefined;
  /** Bumped by `retireBuffer`: steps captured under an earlier epoch may bind a destroyed buffer and are not replayed. */
  private bufferEpoch = 0;
  private readonly recordingEpochs = new WeakMap<StepRecording, number>();
  private allocated = 0;
  private liveCreated = 0;
  /** Error scopes of `beginAllocationScope` open, and the error an `uploadCheckpoint` found in them. */
  private allocationScopes = 0;
  private allocationFailure: WebLMError | undefined;
  /** Bytes written or allocated since the last upload checkpoint, and the window submitted before it. */
  private paced = 0;
  private inFlight: Promise<unknown> | undefined;
  private ring: UploadStaging | undefined;
  /** Dispatches recorded since creation: a figure for benchmarks and tests. */
  dispatchCount = 0;
  /**
   * Where set (Node over Dawn: src/node/gpu.ts), a decode step's read (`paced`) waits out most of its expected
   * time on a timer before asking for the mapping, because dawn.node's polling of a pending map makes garbage
   * (src/gpu/readPacer.ts). Browsers leave it unset.
   */
  readPacer: ReadPacer | undefined = undefined;
  /**
   * Where set (Node over Dawn), the waits for the device (maps, submitted work) turn the event loop slower the
   * longer they last, for the same garbage (src/gpu/pollThrottle.ts). Browsers leave it unset.
   */
  pollThrottle: PollThrottle | undefined = undefined;

  constructor(
    /** The GPU object the device came from; held so that Dawn's instance outlives its device. */
    readonly gpu: GPU,
    readonly device: GPUDevice,
    readonly adapterInfo: { vendor: string; architecture: string; description: string },
    readonly features: GpuFeatures,
  ) {
    this.limits = device.limits;
    this.pipelines = new PipelineCache(device);
    this.pool = new BufferPool(device);
    this.paramArena = device.createBuffer({
      size: this.paramStaging.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'params',
    });
    void device.lost.then((info) => {
      this.failure ??= new DeviceLostError(`WebGPU device lost (${info.reason}): ${info.message}`);
    });
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      if (this.failure) return;
      this.failure =
        e instanceof GPUOutOfMemoryError ? new GpuOutOfMemoryError(`GPU out of memory: ${e.message}`) : new ShaderError(`WebGPU error: ${e.message}`);
    });
  }

  private unusedBuffer: GPUBuffer | undefined;

  /** A small buffer to bind where a kernel variant ignores a binding (no bias, say). Never written. */
  get unused(): GPUBuffer {
    return (this.unusedBuffer ??= this.createBuffer(256, storageUsage(), 'unused'));
  }

  /** Bytes of GPU buffers created through this context (weights, caches, activations). */
  get bytesAllocated(): number {
    return this.allocated;
  }

  /** GPU buffers created through this context and its pool and not destroyed yet: tests count them. */
  get liveBuffers(): number {
    return this.liveCreated + this.pool.liveBuffers;
  }

  /** The device was lost (or failed for good): the engine creates a new context for the next load. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Captures the out-of-memory and validation errors of what follows (a load's allocations and uploads)
   * until `endAllocationScope`, instead of failing the context for good.
   */
  beginAllocationScope(): void {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    this.allocationScopes++;
    this.allocationFailure = undefined;
  }

  /** Ends `beginAllocationScope`: the error it caught, as GpuOutOfMemoryError or ShaderError (an OOM's validation errors are its consequence). */
  async endAllocationScope(): Promise<WebLMError | undefined> {
    this.allocationScopes--;
    const found = this.allocationFailure;
    this.allocationFailure = undefined;
    const failure = await this.popAllocationScope();
    return found ?? failure ?? this.failure;
  }

  private async popAllocationScope(): Promise<WebLMError | undefined> {
    const [validation, oom] = await Promise.all([this.device.popErrorScope(), this.device.popErrorScope()]);
    if (oom) return new GpuOutOfMemoryError(`GPU out of memory: ${oom.message}`);
    if (validation) return new ShaderError(`WebGPU error: ${validation.message}`);
    return undefined;
  }

  /**
   * Called by loaders after each slice they allocate or write: once `uploadPacing.windowBytes` have passed
   * since the last checkpoint, submits the window's writes, waits for the window before it (two in flight at
   * most), and, inside an allocation scope, checks it for errors: an out-of-memory (or validation error)
   * is thrown here, a window after it happened, not at the end of the load. Cheap otherwise.
   */
  async uploadCheckpoint(): Promise<void> {
    const window = uploadPacing.windowBytes;
    if (window <= 0 || this.paced < window) return;
    this.paced = 0;
    this.flush();
    this.device.queue.submit([]);
    const before = this.inFlight;
    this.inFlight = this.device.queue.onSubmittedWorkDone();
    const [, failure] = await this.settle(Promise.all([before, this.allocationScopes > 0 ? this.recheckAllocationScope() : undefined]));
    this.throwIfFailed();
    if (failure) throw failure;
  }

  /** Pops the allocation scope's error scopes and pushes them again: what they caught so far. */
  private async recheckAllocationScope(): Promise<WebLMError | undefined> {
    const failure = await this.popAllocationScope();
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    if (failure) this.allocationFailure ??= failure;
    return failure;
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** The staging ring of the load in progress (`withUploadStaging`), where loaders put tensors' bytes; undefined otherwise. */
  get stagingRing(): UploadStaging | undefined {
    return this.ring;
  }

  /**
   * Runs a load with a staging ring (src/gpu/uploadStaging.ts) that its tensors' bytes go through: when `load`
   * resolves, what was staged has landed; when it fails, nothing staged after the failure is submitted. The
   * ring's buffers are destroyed either way. Nested calls share the outer ring; `uploadStaging.slots` 0: none.
   */
  async withUploadStaging<T>(load: () => Promise<T>): Promise<T> {
    if (this.ring || uploadStaging.slots <= 0) return load();
    const staging = new UploadStaging({
      device: this.device,
      createBuffer: (bytes, usage, label) => this.createBuffer(bytes, usage, label),
      destroyBuffer: (buf) => this.destroyBuffer(buf),
      paced: (bytes) => void (this.paced += bytes),
      settle: (p) => this.settle(p),
      failure: () => this.failure,
    });
    this.ring = staging;
    try {
      const result = await load();
      await staging.drain();
      return result;
    } catch (err) {
      staging.abandon(err);
      throw err;
    } finally {
      this.ring = undefined;
      await staging.destroy();
    }
  }

  createBuffer(bytes: number, usage: GPUBufferUsageFlags = storageUsage(), label = 'buffer'): GPUBuffer {
    this.throwIfFailed();
    const size = roundUp(Math.max(bytes, 4), 16);
    if (size > this.limits.maxBufferSize) {
      throw new GpuOutOfMemoryError(`${label}: a buffer of ${size} bytes exceeds this adapter's maxBufferSize (${this.limits.maxBufferSize} bytes)`);
    }
    const buf = this.device.createBuffer({ size, usage, label });
    this.allocated += size;
    this.liveCreated++;
    this.paced += size;
    return buf;
  }

  destroyBuffer(buf: GPUBuffer): void {
    this.allocated -= buf.size;
    this.liveCreated--;
    buf.destroy();
  }

  /**
   * Destroys a buffer that work recorded and not yet submitted, or steps captured before, may bind (a scratch
   * buffer replaced by a larger one): what is recorded is submitted first (the GPU finishes with the buffer
   * before it is freed), and no step captured before this call is replayed after it.
   */
  retireBuffer(buf: GPUBuffer): void {
    this.flush();
    this.bufferEpoch++;
    this.destroyBuffer(buf);
  }

  /** A new zero-filled tensor of its own buffer. */
  createTensor(shape: readonly number[], dtype: DType, label?: string): Tensor {
    return { buffer: this.createBuffer(tensorBytes({ shape, dtype }), storageUsage(), label), offset: 0, shape, dtype, label };
  }

  /** A tensor holding `data` (bytes as stored for block formats). */
  upload(data: ArrayBufferView, shape: readonly number[], dtype: DType, label?: string): Tensor {
    const t = this.createTensor(shape, dtype, label);
    this.write(t, data);
    return t;
  }

  write(target: Binding, data: ArrayBufferView, byteOffset = 0): void {
    if (this.capture) this.capture.broken = true; // a queue write does not go in the list
    const { buffer, offset } = this.range(target);
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    const aligned = bytes.byteLength % 4 === 0 ? bytes : padTo4(bytes);
    const piece = uploadPacing.maxWriteBytes > 0 ? Math.max(4, uploadPacing.maxWriteBytes - (uploadPacing.maxWriteBytes % 4)) : aligned.byteLength;
    for (let at = 0; at < aligned.byteLength || at === 0; at += piece) {
      const n = Math.min(piece, aligned.byteLength - at);
      this.device.queue.writeBuffer(buffer, offset + byteOffset + at, aligned.subarray(at, at + n));
      if (n === 0) break;
    }
    this.paced += aligned.byteLength;
  }

  /** A view of part of a tensor's buffer as a tensor of another shape (no copy). */
  view(t: Tensor, shape: readonly number[], byteOffset = 0, dtype: DType = t.dtype): Tensor {
    return { buffer: t.buffer, offset: t.offset + byteOffset, shape, dtype, label: t.label };
  }

  pipeline(key: PipelineKey): Pipeline {
    return this.pipelines.get(key);
  }

  private range(b: Binding): { buffer: GPUBuffer; offset: number; size: number | undefined } {
    if ('shape' in b) {
      const bytes = roundUp(tensorBytes(b), 4);
      return { buffer: b.buffer, offset: b.offset, size: Math.min(bytes, b.buffer.size - b.offset) };
    }
    if ('buffer' in b) return { buffer: b.buffer, offset: b.offset ?? 0, size: b.size };
    return { buffer: b, offset: 0, size: undefined };
  }

  private bufferId(buf: GPUBuffer): number {
    let id = this.bufferIds.get(buf);
    if (id === undefined) this.bufferIds.set(buf, (id = this.nextBufferId++));
    return id;
  }

  private computePass(): GPUComputePassEncoder {
    this.throwIfFailed();
    this.encoder ??= this.device.createCommandEncoder();
    if (!this.pass) {
      const timestampWrites = this.nextPassTimestamps;
      this.pass = this.encoder.beginComputePass(timestampWrites ? { timestampWrites } : undefined);
      this.nextPassTimestamps = undefined;
      this.passPipeline = undefined;
      this.passGroup = undefined;
    }
    return this.pass;
  }

  private bindGroup(p: Pipeline, bindings: readonly Binding[], params: Params | undefined): GPUBindGroup {
    const hasParams = p.layout[0] === 'uniform';
    if (hasParams !== !!params) throw new Error(`${p.key.shader}: layout and params disagree`);
    const expected = p.layout.length - (hasParams ? 1 : 0);
    if (bindings.length !== expected) {
      throw new Error(`${p.key.shader}:${p.key.entry ?? 'main'} takes ${expected} bindings, got ${bindings.length}`);
    }
    // The key is built on every dispatch; the entries only when the group is not cached yet.
    let key = `${p.id}`;
    let slot = -1;
    if (params) {
      if (this.paramSlot === PARAM_SLOTS) this.flush();
      slot = this.paramSlot++;
      this.paramStaging.set(params.data, slot * PARAM_SLOT);
      if (params.inputs && this.capture) this.capture.patch(slot, PARAM_SLOT / 4, params.inputs);
      key += `|p${slot}`;
    }
    const ranges = bindings.map((b) => this.range(b));
    for (const r of ranges) key += `|${this.bufferId(r.buffer)}@${r.offset}+${r.size ?? '*'}`;
    let group = this.bindGroups.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = [];
      if (params) entries.push({ binding: 0, resource: { buffer: this.paramArena, offset: slot * PARAM_SLOT, size: PARAM_SLOT } });
      ranges.forEach((r, i) => {
        const resource: GPUBufferBinding = { buffer: r.buffer, offset: r.offset };
        if (r.size !== undefined) resource.size = r.size;
        entries.push({ binding: i + (hasParams ? 1 : 0), resource });
      });
      if (this.bindGroups.size > 50_000) this.bindGroups.clear();
      group = this.device.createBindGroup({ layout: p.pipeline.getBindGroupLayout(0), entries });
      this.bindGroups.set(key, group);
    }
    return group;
  }

  /**
   * Records one dispatch. `bindings` fill @binding(1..) when the layout starts with 'uniform' (the
   * params), else @binding(0..).
   */
  dispatch(pipeline: Pipeline | PipelineKey, bindings: readonly Binding[], workgroups: readonly [number, number?, number?], params?: Params): void {
    const p = 'pipeline' in pipeline ? pipeline : this.pipelines.get(pipeline);
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) throw new Error(`${p.key.shader}: grid ${x}x${y}x${z} exceeds ${max} per dimension`);
    const group = this.bindGroup(p, bindings, params);
    const pass = this.computePass();
    this.setPipeline(pass, p.pipeline, group);
    pass.dispatchWorkgroups(x, y, z);
    this.capture?.dispatch(p.pipeline, group, x, y, z);
    this.dispatchCount++;
  }

  /** Records a dispatch whose grid (3 x u32) is read from `indirect` at `byteOffset` on the GPU. */
  dispatchIndirect(pipeline: Pipeline | PipelineKey, bindings: readonly Binding[], indirect: GPUBuffer, byteOffset: number, params?: Params): void {
    const p = 'pipeline' in pipeline ? pipeline : this.pipelines.get(pipeline);
    const group = this.bindGroup(p, bindings, params);
    const pass = this.computePass();
    this.setPipeline(pass, p.pipeline, group);
    pass.dispatchWorkgroupsIndirect(indirect, byteOffset);
    this.capture?.indirect(p.pipeline, group, indirect, byteOffset);
    this.dispatchCount++;
  }

  private setPipeline(pass: GPUComputePassEncoder, pipeline: GPUComputePipeline, group: GPUBindGroup): void {
    if (this.passPipeline !== pipeline) {
      pass.setPipeline(pipeline);
      this.passPipeline = pipeline;
    }
    if (this.passGroup !== group) {
      pass.setBindGroup(0, group);
      this.passGroup = group;
    }
  }

  /** Records a buffer copy between dispatches (ends the current compute pass). */
  copy(src: Binding, dst: Binding, bytes: number): void {
    const s = this.range(src);
    const d = this.range(dst);
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(s.buffer, s.offset, d.buffer, d.offset, roundUp(bytes, 4));
    this.capture?.copy(s.buffer, s.offset, d.buffer, d.offset, roundUp(bytes, 4));
  }

  /**
   * For benchmarks (the engine never times itself): ends the current compute pass, so that the next
   * dispatches recorded go into a new pass whose start and end GPU timestamps are written to `querySet` at
   * `beginIndex` and `endIndex`. The pass lasts until the next `timedPass`, `copy`, `resolveQueries` or
   * `flush`; call it before each dispatch to time dispatches one by one. Needs `features.timestampQuery`.
   */
  timedPass(querySet: GPUQuerySet, beginIndex: number, endIndex: number): void {
    if (this.capture) this.capture.broken = true;
    this.endPass();
    this.nextPassTimestamps = { querySet, beginningOfPassWriteIndex: beginIndex, endOfPassWriteIndex: endIndex };
  }

  /** Records the resolve of `count` queries from `first` into `destination` (QUERY_RESOLVE usage) at `offset` (a multiple of 256). */
  resolveQueries(querySet: GPUQuerySet, first: number, count: number, destination: GPUBuffer, offset = 0): void {
    if (this.capture) this.capture.broken = true;
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.resolveQuerySet(querySet, first, count, destination, offset);
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  /** Submits everything recorded so far as one command buffer. */
  flush(): void {
    this.throwIfFailed();
    if (this.capture) this.capture.broken = true; // the slots start again from 0
    if (!this.encoder) return;
    this.endPass();
    if (this.paramSlot > 0) this.device.queue.writeBuffer(this.paramArena, 0, this.paramStaging, 0, this.paramSlot * PARAM_SLOT);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = undefined;
    this.paramSlot = 0;
  }

  /** Submits and waits for the GPU; throws the first WebGPU error seen (validation, OOM, device lost). */
  async sync(): Promise<void> {
    if (this.ring) await this.ring.drain();
    this.flush();
    await this.settle(this.device.queue.onSubmittedWorkDone());
    this.throwIfFailed();
  }

  /** Settles as `p`, a wait for the device, does: through `pollThrottle` where set. */
  settle<T>(p: Promise<T>): Promise<T> {
    return this.pollThrottle ? this.pollThrottle.during(p) : p;
  }

  /**
   * Submits what was recorded and reads `bytes` from `source` back to the CPU. `paced`: the read waits for a decode
   * step, for `readPacer`.
   */
  async read(source: Binding, bytes?: number, paced = false): Promise<ArrayBuffer> {
    const r = this.range(source);
    const n = roundUp(bytes ?? r.size ?? r.buffer.size - r.offset, 4);
    if (this.ring) await this.ring.drain(); // bytes staged for it land first
    const staging = this.pool.acquire(n, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback');
    this.copy(r, staging, n);
    this.flush();
    const pacer = paced ? this.readPacer : undefined;
    const submitted = pacer ? performance.now() : 0;
    try {
      if (pacer) await sleep(pacer.delayMs());
      await this.settle(staging.mapAsync(GPUMapMode.READ, 0, n)).catch(async (err: unknown) => {
        // A lost device fails the map before its `lost` promise settles: wait for it briefly.
        await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 100))]);
        throw this.failure ?? err;
      });
      this.throwIfFailed();
      if (pacer) pacer.observe(performance.now() - submitted);
      return staging.getMappedRange(0, n).slice(0, bytes ?? n);
    } finally {
      if (staging.mapState === 'mapped') staging.unmap();
      this.pool.release(staging);
    }
  }

  /**
   * Starts capturing what is recorded into a StepRecording (src/gpu/capture.ts); `inputs` are this step's
   * values of the inputs kernels mark in their uniforms and guards. A capture still open is dropped.
   */
  beginCapture(inputs: StepInputs): void {
    this.capture = new StepCapture(inputs, this.paramSlot);
  }

  /** Ends the capture: its recording, or undefined where something was recorded that a replay cannot repeat. */
  endCapture(): StepRecording | undefined {
    const c = this.capture;
    this.capture = undefined;
    if (!c || c.broken) return undefined;
    const params = this.paramStaging.slice(c.startSlot * PARAM_SLOT, this.paramSlot * PARAM_SLOT);
    const recording = new StepRecording(c, c.startSlot, params, this.paramSlot - c.startSlot);
    this.recordingEpochs.set(recording, this.bufferEpoch);
    return recording;
  }

  /** Kernels: the dispatches recorded hold only for values of step input `input` where `holds` is true (called with the kernel's own value: `value` minus this step's input plus the new one). */
  guard(input: string, value: number, holds: (value: number) => boolean): void {
    this.capture?.guard(input, value, holds);
  }

  /** Whether a step is being captured (kernels build their guards only then). */
  get capturing(): boolean {
    return this.capture !== undefined;
  }

  /**
   * Records a captured step again with `inputs` in its marked uniforms: no kernel code runs. False (nothing
   * recorded) where its guards do not hold for `inputs` or its uniform slots are not the next ones free.
   */
  replayStep(r: StepRecording, inputs: StepInputs): boolean {
    this.throwIfFailed();
    if (this.capture || this.paramSlot !== r.startSlot || this.recordingEpochs.get(r) !== this.bufferEpoch || !r.holds(inputs)) return false;
    this.paramStaging.set(r.params, r.startSlot * PARAM_SLOT);
    r.patch(this.paramWords, this.paramFloats, (r.startSlot * PARAM_SLOT) / 4, inputs);
    this.paramSlot += r.slots;
    const { ops, pipelines, groups, grids, buffers, copies } = r;
    this.encoder ??= this.device.createCommandEncoder();
    let d = 0; // dispatch index
    let b = 0; // buffers index
    let c = 0; // copies index
    let pass = this.pass;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op === OP_COPY) {
        this.endPass();
        pass = undefined;
        this.encoder!.copyBufferToBuffer(buffers[b]!, copies[c]!, buffers[b + 1]!, copies[c + 1]!, copies[c + 2]!);
        b += 2;
        c += 3;
        continue;
      }
      pass ??= this.computePass();
      const pipeline = pipelines[d]!;
      const group = groups[d]!;
      if (this.passPipeline !== pipeline) {
        pass.setPipeline(pipeline);
        this.passPipeline = pipeline;
      }
      if (this.passGroup !== group) {
        pass.setBindGroup(0, group);
        this.passGroup = group;
      }
      if (op === OP_DISPATCH) pass.dispatchWorkgroups(grids[3 * d]!, grids[3 * d + 1]!, grids[3 * d + 2]!);
      else pass.dispatchWorkgroupsIndirect(buffers[b++]!, grids[3 * d]!);
      d++;
    }
    this.dispatchCount += r.dispatches;
    return true;
  }

  async readF32(t: Tensor): Promise<Float32Array> {
    return new Float32Array(await this.read(t, tensorBytes(t)));
  }

  destroy(): void {
    this.pool.destroy();
    this.device.destroy();
  }
}

function padTo4(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(roundUp(bytes.byteLength, 4));
  out.set(bytes);
  return out;
}
