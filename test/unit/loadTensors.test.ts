import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidModelError } from '../../src/errors.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { convertToGGUF } from '../../src/node/convert.js';
import { randomWeightSource } from '../../bench/randomWeights.js';
import type { ByteSource } from '../../src/weights/files.js';
import { openGGUF } from '../../src/models/gguf.js';
import { loadChunking, loadF32Concat, loadMatrix } from '../../src/weights/loadTensors.js';
import { f32ToBf16, quantize } from '../../src/weights/quant/index.js';
import { readSafetensorsHeader, SafetensorsSource } from '../../src/weights/safetensors.js';
import type { WeightSource } from '../../src/weights/source.js';
import { byteTokenizerConfig, byteTokenizerJson } from '../e2e/pages/engineTokenizer.js';
import { ggufReadBlocks } from '../../src/weights/ggufSource.js';
import { fixtureDir, writeSafetensors } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { randomF32 } from '../helpers/random.js';

const memory = (b: Uint8Array): ByteSource => ({
  size: b.byteLength,
  async read(o, n) {
    if (o + n > b.byteLength) throw new InvalidModelError('past the end');
    return b.slice(o, o + n);
  },
});

/** A WeightSource that records the byte length of every read it serves. */
function recording(src: WeightSource): WeightSource & { reads: number[] } {
  const reads: number[] = [];
  return {
    tensors: src.tensors,
    reads,
    async read(name) {
      const b = await src.read(name);
      reads.push(b.byteLength);
      return b;
    },
    async readRange(name, o, n) {
      reads.push(n);
      return src.readRange(name, o, n);
    },
  };
}

const CHUNK = 5 * 32 * 4; // five f32 rows of 32
const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const toBf16 = (v: Float32Array) => {
  const u = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) u[i] = f32ToBf16(v[i]!);
  return u;
};
const bf16Values = (u: Uint16Array) => new Float32Array(new Uint32Array(Array.from(u, (x) => x << 16)).buffer);

// Odd row counts so that chunks end mid-tensor; q8_0 rows of 32 are 34 bytes (writes not 4-byte aligned).
const a = randomF32(37 * 32, 1);
const b = randomF32(37 * 32, 2);
const v1 = randomF32(333, 3);
const v2 = randomF32(201, 4);
const st = writeSafetensors({
  a: { dtype: 'F32', shape: [37, 32], data: bytes(a) },
  b: { dtype: 'BF16', shape: [37, 32], data: bytes(toBf16(b)) },
  v1: { dtype: 'BF16', shape: [333], data: bytes(toBf16(v1)) },
  v2: { dtype: 'F32', shape: [201], data: bytes(v2) },
});

/** The first n bytes of a tensor's buffer. */
async function readBack(t: Tensor, n: number): Promise<Uint8Array> {
  return new Uint8Array(await (await gpu()).read(t, n));
}

describe('chunked tensor loading', () => {
  const saved = loadChunking.maxBytes;
  afterEach(() => void (loadChunking.maxBytes = saved));

  it('loads tensors of several chunks into the GPU byte for byte (f32, bf16→f32, f32→q8_0, stored q4_0, fused, vectors)', async () => {
    const ctx = await gpu();
    loadChunking.maxBytes = CHUNK;
    const src = recording(new SafetensorsSource(await readSafetensorsHeader(memory(st), 'mem.safetensors'), 'mem'));
    let reported = 0;
    const count = (n: number) => (reported += n);

    const f32 = await loadMatrix(ctx, src, [{ name: 'a', shape: [37, 32] }], 'f32', 'a', count);
    expect(await readBack(f32, 37 * 32 * 4)).toEqual(bytes(a));

    const fromBf16 = await loadMatrix(ctx, src, [{ name: 'b', shape: [37, 32] }], 'f32', 'b', count);
    expect(await readBack(fromBf16, 37 * 32 * 4)).toEqual(bytes(bf16Values(toBf16(b))));

    // Fused [a | pad | b] as q8_0: a's 37 rows take 40 (zeros after), then b's rows.
    const q8 = await loadMatrix(
      ctx,
      src,
      [
        { name: 'a', shape: [37, 32], padRows: 40 },
        { name: 'b', shape: [37, 32] },
      ],
      'q8_0',
      'ab',
      count,
    );
    expect(q8.dtype).toBe('q8_0');
    const want = new Uint8Array(77 * 34);
    want.set(quantize(a, 'q8_0'));
    want.set(quantize(bf16Values(toBf16(b)), 'q8_0'), 40 * 34);
    expect(await readBack(q8, 77 * 34)).toEqual(want);

    const vec = await loadF32Concat(
      ctx,
      src,
      [
        { name: 'v1', shape: [333], padRows: 336 },
        { name: 'v2', shape: [201] },
      ],
      'v',
      count,
    );
    const wantV = new Float32Array(537);
    wantV.set(bf16Values(toBf16(v1)));
    wantV.set(v2, 336);
    expect(await ctx.readF32(vec)).toEqual(wantV);

    expect(Math.max(...src.reads)).toBeLessThanOrEqual(CHUNK);
    expect(src.reads.length).toBeGreaterThan(20);
    expect(reported).toBe(src.reads.reduce((x, y) => x + y, 0));

    // A stored q4_0 matrix kept as stored: 101 rows of 2 blocks (36 bytes), 17 rows a chunk.
    const random = randomWeightSource({ hidden_size: 64, intermediate_size: 101, num_attention_heads: 1, vocab_size: 8, num_hidden_layers: 1 }, 'q4_0');
    const q4src = recording(random);
    const name = 'model.layers.0.mlp.gate_proj.weight';
    const q4 = await loadMatrix(ctx, q4src, [{ name, shape: [101, 64] }], 'auto', 'q4');
    expect(q4.dtype).toBe('q4_0');
    expect(await readBack(q4, 101 * 36)).toEqual(await random.read(name));
    expect(Math.max(...q4src.reads)).toBeLessThanOrEqual(CHUNK);
    expect(q4src.reads.length).toBe(Math.ceil(101 / 17));
  });

  it('reads ranges of a GGUF consistent with whole reads, q/k rows un-permuted (any range)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weblm-chunks-'));
    for (const f of ['config.json', 'model.safetensors']) await copyFile(join(fixtureDir('llama'), f), join(dir, f));
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(byteTokenizerConfig()));
    await convertToGGUF({ model: dir, out: join(dir, 'model.gguf'), type: 'q8_0' });
    const gguf = await openGGUF(memory(new Uint8Array(await readFile(join(dir, 'model.gguf')))));
    // Also with reads served from blocks of their tensor (ggufReadBlocks: off by default), blocks of 3,000 bytes.
    for (const blockBytes of [0, 3000]) {
      const kept = ggufReadBlocks.blockBytes;
      ggufReadBlocks.blockBytes = blockBytes;
      try {
        for (const name of ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.k_proj.weight', 'model.layers.0.mlp.up_proj.weight']) {
          const whole = await gguf.read(name);
          for (const step of [whole.byteLength / 8, 1000, 77]) {
            const parts = new Uint8Array(whole.byteLength);
            for (let o = 0; o < whole.byteLength; o += step) parts.set(await gguf.readRange(name, o, Math.min(step, whole.byteLength - o)), o);
            expect(parts).toEqual(whole);
          }
        }
      } finally {
        ggufReadBlocks.blockBytes = kept;
      }
    }
    await expect(gguf.readRange('model.layers.0.mlp.up_proj.weight', 1, 1e9)).rejects.toThrow(InvalidModelError);
  });
});
