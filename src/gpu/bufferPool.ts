/**
 * Reuses GPU buffers of the same usage and size class. Sizes round up to a power of two (at least
 * 256 bytes) so that a buffer released by one step serves the next step of another shape.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private live = 0;
  private created = 0;

  constructor(private readonly device: GPUDevice) {}

  /** Bytes held by buffers handed out and not yet released. */
  get bytesInUse(): number {
    return this.live;
  }

  /** Buffers this pool created and has not destroyed (handed out or free): tests count them. */
  get liveBuffers(): number {
    return this.created;
  }

  static sizeClass(bytes: number): number {
    return Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
  }

  acquire(bytes: number, usage: GPUBufferUsageFlags, label = 'pooled'): GPUBuffer {
    const size = BufferPool.sizeClass(bytes);
    const list = this.free.get(`${usage}:${size}`);
    let buf = list?.pop();
    if (!buf) {
      buf = this.device.createBuffer({ size, usage, label });
      this.created++;
    }
    this.live += size;
    return buf;
  }

  release(buf: GPUBuffer): void {
    const k = `${buf.usage}:${buf.size}`;
    let list = this.free.get(k);
    if (!list) this.free.set(k, (list = []));
    list.push(buf);
    this.live -= buf.size;
  }

  destroy(): void {
    for (const list of this.free.values()) for (const b of list) (b.destroy(), this.created--);
    this.free.clear();
  }
}
