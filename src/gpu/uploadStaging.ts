import type { WebLMError } from '../errors.js';

/**
 * The staging ring of a load (`GpuContext.withUploadStaging`): up to `slots` buffers of `slotBytes`
 * (MAP_WRITE | COPY_SRC); converted bytes shorter than `minBytes` go through a queue write instead. 0 slots:
 * loads write through queue writes only, as before the ring (benchmarks compare). Tests lower them.
 */
export const uploadStaging = { slots: 4, slotBytes: 16 * 1024 * 1024, minBytes: 64 * 1024 };

/** What the ring needs of its GPU context: buffers counted by it, pacing, and its failure (a lost device). */
export interface StagingHost {
  readonly device: GPUDevice;
  createBuffer(bytes: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer;
  destroyBuffer(buf: GPUBuffer): void;
  /** Bytes staged, for the upload checkpoints' windows. */
  paced(bytes: number): void;
  /** Settles as a wait for the device does (GpuContext.settle). */
  settle<T>(p: Promise<T>): Promise<T>;
  failure(): WebLMError | undefined;
}

interface Copy {
  readonly at: number;
  readonly dst: GPUBuffer;
  readonly dstOffset: number;
  readonly size: number;
}

interface Slot {
  readonly buffer: GPUBuffer;
  /** The mapped range while the slot takes bytes; undefined from its unmap to its next map. */
  range: Uint8Array | undefined;
  used: number;
  /** Fills of the range still in flight (file reads straight into it). */
  fills: Promise<void>[];
  copies: Copy[];
  /** Settles once the slot's copies ran and it is mapped again (rejects: the ring failed). */
  ready: Promise<void>;
}

/**
 * Bytes reach GPU buffers through a ring of mapped staging buffers: a piece takes the next bytes of the open
 * slot's mapped range (filled there by a file read, or copied in), a full slot is unmapped once its fills are in,
 * its copies into their buffers submitted, and it is mapped again for reuse when the GPU has run them. No queue
 * writes, so no copy by Dawn on the calling thread; the reads of several slots are in flight at once, across
 * tensors, and the slots bound the memory this holds. A failure (a read, a lost device, or `abandon`) ends the
 * ring: nothing more is submitted, and the next call throws it.
 */
export class UploadStaging {
  private readonly created: Slot[] = [];
  /** Slots submitted, oldest first: the next one taken when all exist. */
  private readonly sealed: Slot[] = [];
  private open: Slot | undefined;
  private failed: unknown;
  private hasFailed = false;

  constructor(
    private readonly host: StagingHost,
    readonly slots = uploadStaging.slots,
    readonly slotBytes = uploadStaging.slotBytes,
  ) {}

  /** Whether a piece of `bytes` can be staged at `dstOffset` (copies need 4-byte aligned offsets and sizes). */
  fits(dstOffset: number, bytes: number): boolean {
    return bytes > 0 && bytes <= this.slotBytes && bytes % 4 === 0 && dstOffset % 4 === 0;
  }

  /** Copies `bytes` (4-byte aligned size and offset) to `dst` at `dstOffset`, through as many slots as they need. */
  async write(dst: GPUBuffer, dstOffset: number, bytes: Uint8Array): Promise<void> {
    const piece = this.slotBytes - (this.slotBytes % 4);
    for (let at = 0; at < bytes.byteLength; at += piece) {
      const n = Math.min(piece, bytes.byteLength - at);
      const { slot, at: where } = await this.reserve(dst, dstOffset + at, n);
      slot.range!.set(bytes.subarray(at, at + n), where);
    }
  }

  /**
   * Stages `bytes` (`fits`) for `dst` at `dstOffset`, filled by `fill` into the slot's range: resolves once
   * the bytes are reserved (waiting for a free slot), not when they are filled; `fill`'s failure fails the ring.
   */
  async fill(dst: GPUBuffer, dstOffset: number, bytes: number, fill: (target: Uint8Array) => Promise<void>): Promise<void> {
    const { slot, at } = await this.reserve(dst, dstOffset, bytes);
    const filled = fill(slot.range!.subarray(at, at + bytes));
    slot.fills.push(filled);
    filled.catch((err: unknown) => this.fail(err));
  }

  /** Submits what is staged and waits for it to land; throws the ring's failure. */
  async drain(): Promise<void> {
    if (this.open) this.seal(this.open);
    this.open = undefined;
    await Promise.all(this.sealed.map((s) => s.ready));
    this.throwIfFailed();
  }

  /** Ends the ring for good with `err` (a failed or aborted load): staged bytes not submitted yet never are. */
  abandon(err: unknown): void {
    this.fail(err);
  }

  /** Waits for the fills and copies in flight to settle, then destroys the slots. */
  async destroy(): Promise<void> {
    if (this.open) await Promise.allSettled(this.open.fills);
    this.open = undefined;
    await Promise.allSettled(this.created.map((s) => s.ready));
    for (const s of this.created) this.host.destroyBuffer(s.buffer);
    this.created.length = 0;
    this.sealed.length = 0;
  }

  private fail(err: unknown): void {
    if (this.hasFailed) return;
    this.hasFailed = true;
    this.failed = err;
  }

  private throwIfFailed(): void {
    if (this.hasFailed) throw this.failed;
  }

  /** `bytes` of the open slot (the next slot when they do not fit in it), to be copied to `dst` at `dstOffset`. */
  private async reserve(dst: GPUBuffer, dstOffset: number, bytes: number): Promise<{ slot: Slot; at: number }> {
    this.throwIfFailed();
    if (this.open && this.open.used + bytes > this.slotBytes) {
      this.seal(this.open);
      this.open = undefined;
    }
    const slot = (this.open ??= await this.nextSlot());
    this.throwIfFailed();
    const at = slot.used;
    slot.used += bytes;
    slot.copies.push({ at, dst, dstOffset, size: bytes });
    this.host.paced(bytes);
    return { slot, at };
  }

  /** A new slot while fewer than `slots` exist, else the oldest submitted one once it is mapped again. */
  private async nextSlot(): Promise<Slot> {
    if (this.created.length < this.slots || this.sealed.length === 0) {
      const buffer = this.host.createBuffer(this.slotBytes, GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC, 'upload staging');
      const slot: Slot = { buffer, range: undefined, used: 0, fills: [], copies: [], ready: Promise.resolve() };
      this.created.push(slot);
      slot.ready = this.map(slot);
      await slot.ready;
      return slot;
    }
    const slot = this.sealed.shift()!;
    await slot.ready;
    slot.used = 0;
    return slot;
  }

  /** Once the slot's fills are in: unmaps it, submits its copies, and maps it again. */
  private seal(slot: Slot): void {
    const fills = slot.fills;
    slot.fills = [];
    slot.ready = (async () => {
      const settled = await Promise.allSettled(fills);
      const failure = settled.find((r) => r.status === 'rejected');
      if (failure) this.fail(failure.reason);
      this.throwIfFailed();
      slot.range = undefined;
      slot.buffer.unmap();
      const encoder = this.host.device.createCommandEncoder();
      for (const c of slot.copies) encoder.copyBufferToBuffer(slot.buffer, c.at, c.dst, c.dstOffset, c.size);
      slot.copies = [];
      this.host.device.queue.submit([encoder.finish()]);
      await this.map(slot);
    })();
    slot.ready.catch((err: unknown) => this.fail(err));
    this.sealed.push(slot);
  }

  private async map(slot: Slot): Promise<void> {
    try {
      await this.host.settle(slot.buffer.mapAsync(GPUMapMode.WRITE));
    } catch (err) {
      // A lost device fails the map before its `lost` promise settles: wait for it briefly.
      await Promise.race([this.host.device.lost, new Promise((r) => setTimeout(r, 100))]);
      throw this.host.failure() ?? err;
    }
    slot.range = new Uint8Array(slot.buffer.getMappedRange());
  }
}
