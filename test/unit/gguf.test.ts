import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidModelError, UnsupportedModelError } from '../../src/errors.js';
import { normalizeConfig } from '../../src/models/registry.js';
import { convertToGGUF } from '../../src/node/convert.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import type { ByteSource } from '../../src/weights/files.js';
import { GGUFValueType } from '../../src/weights/ggufFormat.js';
import { readGGUF } from '../../src/weights/ggufReader.js';
import { openGGUF } from '../../src/models/gguf.js';
import { meta, writeGGUF } from '../../src/weights/ggufWriter.js';
import { quantize } from '../../src/weights/quant/index.js';
import { openSafetensors } from '../../src/weights/safetensors.js';
import { byteTokenizerConfig, byteTokenizerJson } from '../e2e/pages/engineTokenizer.js';
import { fixtureDir } from '../helpers/fixtures.js';
import { randomF32 } from '../helpers/random.js';

const memory = (b: Uint8Array): ByteSource => ({
  size: b.byteLength,
  async read(o, n) {
    if (o + n > b.byteLength) throw new InvalidModelError('past the end');
    return b.slice(o, o + n);
  },
});

async function convertFixture(name: string, type: 'f32' | 'f16' | 'q8_0' | 'q4_0') {
  const dir = await mkdtemp(join(tmpdir(), `weblm-gguf-${name}-`));
  for (const f of ['config.json', 'model.safetensors']) await copyFile(join(fixtureDir(name), f), join(dir, f));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(byteTokenizerConfig()));
  const out = join(dir, 'model.gguf');
  await convertToGGUF({ model: dir, out, type });
  return { dir, out, bytes: new Uint8Array(await readFile(out)) };
}

describe('GGUF reader and writer', () => {
  it('round-trips metadata of every value type, tensor infos, a custom alignment and tensor bytes', async () => {
    const md = new Map([
      ['general.architecture', meta.str('llama')],
      ['general.alignment', meta.u32(64)],
      ['a.u8', { type: GGUFValueType.UINT8, value: 200 }],
      ['a.i8', { type: GGUFValueType.INT8, value: -5 }],
      ['a.u16', { type: GGUFValueType.UINT16, value: 60000 }],
      ['a.i16', { type: GGUFValueType.INT16, value: -300 }],
      ['a.i32', meta.i32(-7)],
      ['a.f32', meta.f32(0.5)],
      ['a.f64', { type: GGUFValueType.FLOAT64, value: 1e-300 }],
      ['a.u64', { type: GGUFValueType.UINT64, value: 2n ** 60n }],
      ['a.i64', { type: GGUFValueType.INT64, value: -3 }],
      ['a.bool', meta.bool(true)],
      ['a.strs', meta.strings(['x', 'ü 中', ''])],
    ]);
    const w = randomF32(3 * 64, 1);
    const q = quantize(randomF32(5 * 32, 2), 'q8_0');
    const file = writeGGUF(md, [
      { name: 'w', dims: [64, 3], dtype: 'f32', data: new Uint8Array(w.buffer) },
      { name: 'q', dims: [32, 5], dtype: 'q8_0', data: q },
    ]);
    const g = await readGGUF(memory(file));
    expect(g.version).toBe(3);
    expect(g.alignment).toBe(64);
    expect(g.dataOffset % 64).toBe(0);
    expect(g.metadata.get('a.u8')).toBe(200);
    expect(g.metadata.get('a.i8')).toBe(-5);
    expect(g.metadata.get('a.u16')).toBe(60000);
    expect(g.metadata.get('a.i16')).toBe(-300);
    expect(g.metadata.get('a.i32')).toBe(-7);
    expect(g.metadata.get('a.f32')).toBe(0.5);
    expect(g.metadata.get('a.f64')).toBe(1e-300);
    expect(g.metadata.get('a.u64')).toBe(2n ** 60n);
    expect(g.metadata.get('a.i64')).toBe(-3);
    expect(g.metadata.get('a.bool')).toBe(true);
    expect(g.metadata.get('a.strs')).toEqual(['x', 'ü 中', '']);
    const tw = g.tensors.get('w')!;
    const tq = g.tensors.get('q')!;
    expect([tw.dims, tw.dtype, tq.dims, tq.dtype]).toEqual([[64, 3], 'f32', [32, 5], 'q8_0']);
    expect(tq.offset % 64).toBe(0);
    expect(file.slice(tw.offset, tw.offset + tw.byteLength)).toEqual(new Uint8Array(w.buffer));
    expect(file.slice(tq.offset, tq.offset + tq.byteLength)).toEqual(q);
  });

  it('gives typed errors: bad magic, unsupported version, truncated header, truncated data, unknown tensor type', async () => {
    const file = writeGGUF(new Map([['general.architecture', meta.str('llama')]]), [{ name: 'w', dims: [8, 2], dtype: 'f32', data: new Uint8Array(64) }]);
    const bad = file.slice();
    bad[0] = 0x47 + 1;
    await expect(readGGUF(memory(bad))).rejects.toThrow(/not a GGUF file/);
    const v1 = file.slice();
    new DataView(v1.buffer).setUint32(4, 1, true);
    await expect(readGGUF(memory(v1))).rejects.toThrow(UnsupportedModelError);
    await expect(readGGUF(memory(file.slice(0, 40)))).rejects.toThrow(/truncated GGUF/);
    await expect(readGGUF(memory(file.slice(0, file.byteLength - 1)))).rejects.toThrow(
      /tensor w ends at byte \d+ but the file has \d+ bytes \(truncated GGUF\)/,
    );
    // Patch the tensor's ggml type (F32 = 0) to Q4_1 (3): listed, but reading it is a typed error.
    const typed = file.slice();
    const typeAt = findTensorTypeOffset(file);
    new DataView(typed.buffer).setUint32(typeAt, 3, true);
    const src = await readGGUF(memory(typed));
    expect(src.tensors.get('w')!.dtype).toBeUndefined();
    const { readGGUFTensor } = await import('../../src/weights/ggufReader.js');
    await expect(readGGUFTensor(memory(typed), src.tensors.get('w')!)).rejects.toThrow(/Q4_1, which weblm cannot load/);
  });
});

/** Byte offset of the ggml type of the single tensor 'w' with 2 dims: after its name and dims. */
function findTensorTypeOffset(file: Uint8Array): number {
  const name = new TextEncoder().encode('w');
  for (let i = 0; i < file.byteLength - 8; i++) {
    const len = Number(new DataView(file.buffer).getBigUint64(i, true));
    if (len === 1 && file[i + 8] === name[0] && new DataView(file.buffer).getUint32(i + 9, true) === 2) return i + 9 + 4 + 16;
  }
  throw new Error('tensor info not found');
}

describe('GGUF as a WeightSource under Hugging Face names', () => {
  for (const name of ['llama', 'qwen2', 'qwen3', 'qwen3_moe', 'qwen2_moe']) {
    it(`${name}: converted at f32, every tensor reads back as the safetensors bytes (q/k permutation undone), and the config matches`, async () => {
      const { bytes } = await convertFixture(name, 'f32');
      const gguf = await openGGUF(memory(bytes), `${name}.gguf`);
      const st = await openSafetensors(folderFiles(fixtureDir(name)));
      expect([...gguf.tensors.keys()].sort()).toEqual([...st.tensors.keys()].sort());
      for (const [n, t] of st.tensors) {
        const g = gguf.tensors.get(n)!;
        expect([n, g.shape, g.dtype]).toEqual([n, t.shape, t.dtype]);
        expect(await gguf.read(n)).toEqual(await st.read(n));
      }
      const raw = JSON.parse(await readFile(join(fixtureDir(name), 'config.json'), 'utf8'));
      const want = normalizeConfig(raw, {}, name);
      const got = normalizeConfig(gguf.config, {}, name);
      // eos: the GGUF file holds the tokenizer's (<|im_end|> of the byte tokenizer), as llama.cpp reads it.
      const { raw: _a, eosTokenIds: _e, ...w } = want as unknown as Record<string, unknown>;
      const { raw: _b, eosTokenIds, ...g } = got as unknown as Record<string, unknown>;
      // sliding_window 0 with no sliding layers (qwen2_moe's config.json) is not written to GGUF.
      expect({ ...g, slidingWindow: g.slidingWindow || undefined }).toEqual({ ...w, slidingWindow: w.slidingWindow || undefined });
      expect(eosTokenIds).toEqual([257]);
    });
  }

  it('q8_0 / q4_0 conversion stores matrices in the block formats (norms stay f32) and they load as stored', async () => {
    for (const type of ['q8_0', 'q4_0'] as const) {
      const { bytes } = await convertFixture('qwen2', type);
      const gguf = await openGGUF(memory(bytes));
      const st = await openSafetensors(folderFiles(fixtureDir('qwen2')));
      const t = gguf.tensors.get('model.layers.0.mlp.up_proj.weight')!;
      expect(t.dtype).toBe(type);
      const f32 = await st.read('model.layers.0.mlp.up_proj.weight');
      expect(await gguf.read(t.name)).toEqual(quantize(new Float32Array(f32.slice().buffer), type));
      expect(gguf.tensors.get('model.norm.weight')!.dtype).toBe('f32');
      expect(gguf.tensors.get('model.layers.0.self_attn.q_proj.bias')!.dtype).toBe('f32');
    }
  });

  it('rebuilds the tokenizer and chat template from the GGUF metadata', async () => {
    const { bytes } = await convertFixture('qwen2', 'f16');
    const gguf = await openGGUF(memory(bytes));
    const { tokenizerJson, tokenizerConfig } = gguf.tokenizer();
    const orig = new TextTokenizer(byteTokenizerJson(), byteTokenizerConfig());
    const back = new TextTokenizer(tokenizerJson, tokenizerConfig);
    const text = '<|im_start|>user\nHello, 世界 🌍!<|im_end|>';
    expect(back.encode(text)).toEqual(orig.encode(text));
    expect(back.eosToken).toBe('<|im_end|>');
    expect(tokenizerConfig.chat_template).toBe(byteTokenizerConfig().chat_template);
    expect(gguf.gguf.metadata.get('tokenizer.ggml.tokens')).toHaveLength(512);
  });
});
