import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomWeightSource } from '../../bench/randomWeights.js';
import { AbortError, DeviceLostError, InvalidModelError } from '../../src/errors.js';
import type { GpuContext } from '../../src/gpu/context.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { uploadStaging } from '../../src/gpu/uploadStaging.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import { loadChunking, loadMatrix, type MatrixPart } from '../../src/weights/loadTensors.js';
import { quantize } from '../../src/weights/quant/index.js';
import { readSafetensorsHeader, SafetensorsSource } from '../../src/weights/safetensors.js';
import type { WeightSource } from '../../src/weights/source.js';
import { writeSafetensors } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { randomF32 } from '../helpers/random.js';

const randomBytes = (n: number, seed: number) => {
  const out = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
};
const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const bf16 = (v: Float32Array) => new Uint16Array(Array.from(new Uint32Array(v.buffer), (u) => u >>> 16));
const bf16Values = (u: Uint16Array) => new Float32Array(new Uint32Array(Array.from(u, (x) => x << 16)).buffer);

// f16 rows of 12 bytes (chunks 4-byte aligned) and of 6 bytes (chunks that end mid-word), an odd-length vector.
const f16 = {
  w6: { shape: [301, 6], data: randomBytes(301 * 12, 1) },
  s6: { shape: [37, 6], data: randomBytes(37 * 12, 2) },
  w3: { shape: [301, 3], data: randomBytes(301 * 6, 3) },
  s3: { shape: [5, 3], data: randomBytes(5 * 6, 4) },
  vec: { shape: [333], data: randomBytes(333 * 2, 5) },
};
const big = randomF32(301 * 6, 6);

/** A source that counts reads into given memory, delays them, and fails the `failAt`-th (1-based). */
function instrumented(src: WeightSource, opts: { failAt?: number; delayMs?: number } = {}) {
  const counts = { into: 0, ranges: 0 };
  const wrapped: WeightSource = {
    tensors: src.tensors,
    read: (name) => src.read(name),
    async readRange(name, o, n) {
      counts.ranges++;
      return src.readRange(name, o, n);
    },
    async readRangeInto(name, o, target) {
      const n = ++counts.into;
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (n === opts.failAt) throw new InvalidModelError(`read ${n} failed`);
      await (src.readRangeInto ? src.readRangeInto(name, o, target) : target.set(await src.readRange(name, o, target.byteLength)));
    },
  };
  return { src: wrapped, counts };
}

describe('staged uploads (GpuContext.withUploadStaging)', () => {
  let dir: string;
  let file: SafetensorsSource;
  const files = { close: async () => {} };
  const saved = { ...uploadStaging, chunk: loadChunking.maxBytes };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weblm-staging-'));
    const tensors: Parameters<typeof writeSafetensors>[0] = {};
    for (const [name, t] of Object.entries(f16)) tensors[name] = { dtype: 'F16', ...t };
    tensors.big = { dtype: 'BF16', shape: [301, 6], data: bytes(bf16(big)) };
    await writeFile(join(dir, 'model.safetensors'), writeSafetensors(tensors));
    const folder = folderFiles(dir);
    files.close = async () => folder.close!();
    file = new SafetensorsSource(await readSafetensorsHeader(await folder.open('model.safetensors'), 'model.safetensors'), dir);
  });
  afterAll(async () => {
    await files.close();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    Object.assign(uploadStaging, { slots: saved.slots, slotBytes: saved.slotBytes, minBytes: saved.minBytes });
    loadChunking.maxBytes = saved.chunk;
  });

  /** Small slots and chunks: a tensor spans chunks and slots, and the slots are reused many times. */
  const small = () => {
    Object.assign(uploadStaging, { slots: 2, slotBytes: 4096, minBytes: 0 });
    loadChunking.maxBytes = 1000;
  };

  /** Buffers of the context itself, not of its pool (reads back take pooled buffers). */
  const ownBuffers = (ctx: GpuContext) => ctx.liveBuffers - ctx.pool.liveBuffers;

  async function readBack(ctx: GpuContext, t: Tensor, n: number): Promise<Uint8Array> {
    return new Uint8Array(await ctx.read(t, n));
  }

  it('lands byte for byte: odd sizes and offsets, chunk boundaries inside tensors, fused parts, converted chunks larger than a slot', async () => {
    const ctx = await gpu();
    small();
    const live = ownBuffers(ctx);
    const { src, counts } = instrumented(file);
    const q = randomWeightSource({ hidden_size: 64, intermediate_size: 101, num_attention_heads: 1, vocab_size: 8, num_hidden_layers: 1 }, 'q4_0');
    const q32 = randomWeightSource({ hidden_size: 32, intermediate_size: 37, num_attention_heads: 1, vocab_size: 8, num_hidden_layers: 1 }, 'q8_0');
    const gate = 'model.layers.0.mlp.gate_proj.weight';
    const part = (name: keyof typeof f16, padRows?: number): MatrixPart => ({ name, shape: f16[name].shape, padRows });
    const cases: { parts: MatrixPart[]; src: WeightSource; dtype?: 'f32'; want: Uint8Array }[] = [];
    const concat = (...xs: Uint8Array[]) => {
      const out = new Uint8Array(xs.reduce((n, x) => n + x.byteLength, 0));
      xs.reduce((at, x) => (out.set(x, at), at + x.byteLength), 0);
      return out;
    };
    cases.push({ parts: [part('w6')], src, want: f16.w6.data }); // aligned chunks, straight into the slots
    cases.push({ parts: [part('w3')], src, want: f16.w3.data }); // the last chunk ends mid-word
    cases.push({ parts: [part('vec')], src, want: f16.vec.data });
    cases.push({ parts: [part('s6', 40), part('w6')], src, want: concat(f16.s6.data, new Uint8Array(3 * 12), f16.w6.data) });
    cases.push({ parts: [part('s3'), part('w3')], src, want: concat(f16.s3.data, f16.w3.data) }); // the second part starts mid-word
    cases.push({ parts: [{ name: 'big', shape: [301, 6] }], src, dtype: 'f32', want: bytes(bf16Values(bf16(big))) });
    cases.push({ parts: [{ name: gate, shape: [101, 64] }], src: q, want: await q.read(gate) }); // a source without readRangeInto
    cases.push({ parts: [{ name: gate, shape: [37, 32] }], src: q32, want: await q32.read(gate) }); // q8_0 rows of 34 bytes

    const loaded = await ctx.withUploadStaging(async () => {
      const ts: Tensor[] = [];
      for (const [i, c] of cases.entries()) {
        if (i === 5) loadChunking.maxBytes = 4000; // one bf16 chunk of 3,612 bytes: 7,224 bytes of f32, two slots
        ts.push(await loadMatrix(ctx, c.src, c.parts, c.dtype ?? 'auto', `t${i}`));
        if (i === 2) expect(await readBack(ctx, ts[0]!, cases[0]!.want.byteLength)).toEqual(cases[0]!.want); // a read mid-load sees what was staged
      }
      expect(ownBuffers(ctx)).toBeGreaterThan(live + cases.length); // the slots
      return ts;
    });
    expect(ownBuffers(ctx)).toBe(live + cases.length); // the slots are destroyed
    for (const [i, c] of cases.entries()) expect(await readBack(ctx, loaded[i]!, c.want.byteLength), `case ${i}`).toEqual(c.want);
    expect(counts.into).toBe(4 + 1 + 1 + 4); // the chunks at aligned places of whole words: w6, w3 but its last, s6 + w6
    for (const t of loaded) ctx.destroyBuffer(t.buffer);
    expect(ownBuffers(ctx)).toBe(live);
  });

  it('converted chunks go through the slots as well (quantized at load)', async () => {
    const ctx = await gpu();
    Object.assign(uploadStaging, { slots: 3, slotBytes: 1024, minBytes: 4 });
    const src = randomWeightSource({ hidden_size: 64, intermediate_size: 101, num_attention_heads: 1, vocab_size: 8, num_hidden_layers: 1 }, 'f32');
    const name = 'model.layers.0.mlp.up_proj.weight';
    const t = await ctx.withUploadStaging(() => loadMatrix(ctx, src, [{ name, shape: [101, 64] }], 'q8_0', 'up'));
    const values = new Float32Array((await src.read(name)).slice().buffer);
    expect(await readBack(ctx, t, 101 * 68)).toEqual(quantize(values, 'q8_0'));
    ctx.destroyBuffer(t.buffer);
  });

  it('a read failing mid-load rejects the load, submits nothing more, and leaves no buffer held', async () => {
    const ctx = await gpu();
    small();
    const live = ctx.liveBuffers;
    const { src } = instrumented(file, { failAt: 7, delayMs: 2 });
    const created: Tensor[] = [];
    const err = await ctx
      .withUploadStaging(async () => {
        for (let i = 0; i < 4; i++) created.push(await loadMatrix(ctx, src, [{ name: 'w6', shape: [301, 6] }], 'auto', `w${i}`));
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidModelError);
    expect((err as Error).message).toMatch(/read 7 failed/);
    for (const t of created) ctx.destroyBuffer(t.buffer);
    await ctx.sync(); // no validation error from a copy into a destroyed buffer
    expect(ctx.liveBuffers).toBe(live);
  });

  it('an abort while reads are in flight destroys the slots once the reads settle', async () => {
    const ctx = await gpu();
    small();
    const live = ctx.liveBuffers;
    const { src, counts } = instrumented(file, { delayMs: 20 });
    const created: Tensor[] = [];
    const err = await ctx
      .withUploadStaging(async () => {
        created.push(await loadMatrix(ctx, src, [{ name: 'w6', shape: [301, 6] }], 'auto', 'w'));
        throw new AbortError('aborted');
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(counts.into).toBeGreaterThan(0);
    for (const t of created) ctx.destroyBuffer(t.buffer);
    await ctx.sync();
    expect(ctx.liveBuffers).toBe(live);
  });

  it('a device lost mid-load fails it with DeviceLostError, without hanging on the slots', async () => {
    const ctx = await createNodeGpu();
    small();
    const { src } = instrumented(file, { delayMs: 2 });
    const err = await ctx
      .withUploadStaging(async () => {
        for (let i = 0; i < 6; i++) {
          await loadMatrix(ctx, src, [{ name: 'w6', shape: [301, 6] }], 'auto', `w${i}`);
          if (i === 1) ctx.device.destroy();
        }
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceLostError);
    ctx.destroy();
  });
});
