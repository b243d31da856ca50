import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Llama, type Token } from 'node-llama-cpp';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateChunk } from '../../src/engine/types.js';
import { InvalidModelError } from '../../src/errors.js';
import { buildModel, loadModel } from '../../src/models/load.js';
import { normalizeConfig } from '../../src/models/registry.js';
import { convertToGGUF, writeModelGGUF } from '../../src/node/convert.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { createNodeEngine } from '../../src/node/nodeEngine.js';
import type { ByteSource } from '../../src/weights/files.js';
import { FILE_TYPE, GGUFValueType, type GGUFTypedValue } from '../../src/weights/ggufFormat.js';
import { readGGUF, type GGUFFile } from '../../src/weights/ggufReader.js';
import { ggufTokenizerMetadata } from '../../src/weights/ggufTokenizer.js';
import { ggufHparams, openGGUF } from '../../src/models/gguf.js';
import { meta, writeGGUF } from '../../src/weights/ggufWriter.js';
import { dequantize, quantize } from '../../src/weights/quant/index.js';
import { openSafetensors } from '../../src/weights/safetensors.js';
import type { TensorInfo, WeightSource } from '../../src/weights/source.js';
import { byteTokenizerConfig, byteTokenizerJson } from '../e2e/pages/engineTokenizer.js';
import { compareLogits, editedFixture, editJson, expected, fixtureDir, fixtureFiles } from '../helpers/fixtures.js';
import { cpuLlama } from '../helpers/llamaCpp.js';
import { gpu } from '../helpers/gpu.js';
import { maxAbsDiff } from '../helpers/random.js';

// deepseek2 GGUF in llama.cpp's current MLA layout (convert_hf_to_gguf DeepseekV2Model since its MLA
// change: kv_b_proj split into attn_k_b {nope, R, heads} = kv_b[h, :nope, :]ᵀ and attn_v_b {R, v, heads},
// head_count_kv 1, key_length R + rope, value_length R, key_length_mla nope + rope, value_length_mla v),
// and the legacy layout (one attn_kv_b {R, heads * (nope + v)}, key_length nope + rope, value_length v).

const memory = (b: Uint8Array): ByteSource => ({
  size: b.byteLength,
  async read(o, n) {
    if (o + n > b.byteLength) throw new InvalidModelError('past the end');
    return b.slice(o, o + n);
  },
});
const f32 = (b: Uint8Array) => new Float32Array(b.slice().buffer);

/** The HF folder of a fixture with the byte-level test tokenizer (the fixtures ship none). */
async function hfFolder(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `weblm-ds2-${name}-`));
  for (const f of ['config.json', 'model.safetensors']) await copyFile(join(fixtureDir(name), f), join(dir, f));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(byteTokenizerConfig()));
  return dir;
}

const converted = new Map<string, Promise<{ dir: string; path: string; bytes: Uint8Array; gguf: GGUFFile }>>();
/** A fixture converted by weblm convert (cached per file). */
function convert(name: string, type: 'f32' | 'q8_0') {
  const key = `${name}/${type}`;
  if (!converted.has(key)) {
    converted.set(
      key,
      (async () => {
        const dir = await hfFolder(name);
        const path = join(dir, `model-${type}.gguf`);
        await convertToGGUF({ model: dir, out: path, type });
        const bytes = new Uint8Array(await readFile(path));
        return { dir, path, bytes, gguf: await readGGUF(memory(bytes)) };
      })(),
    );
  }
  return converted.get(key)!;
}

interface Dims {
  heads: number;
  nope: number;
  rope: number;
  v: number;
  rank: number;
  layers: number;
}
async function dimsOf(name: string): Promise<Dims> {
  const c = JSON.parse(await readFile(join(fixtureDir(name), 'config.json'), 'utf8'));
  return {
    heads: c.num_attention_heads,
    nope: c.qk_nope_head_dim,
    rope: c.qk_rope_head_dim,
    v: c.v_head_dim,
    rank: c.kv_lora_rank,
    layers: c.num_hidden_layers,
  };
}

/**
 * A GGUF in the legacy deepseek2 layout, as llama.cpp's converter wrote it before the MLA change: one
 * attn_kv_b {R, heads * (nope + v)} per layer (in `type`'s dtype where its rows allow), per-head key/value
 * lengths in key_length / value_length, head_count_kv = heads, no *_mla keys. Other tensors are those of
 * weblm's file of the same type.
 */
async function legacyGGUF(name: string, type: 'f32' | 'q8_0'): Promise<Uint8Array> {
  const { bytes, gguf } = await convert(name, type);
  const d = await dimsOf(name);
  const raw = JSON.parse(await readFile(join(fixtureDir(name), 'config.json'), 'utf8'));
  const md = new Map<string, GGUFTypedValue>([
    ['general.architecture', meta.str('deepseek2')],
    ['general.name', meta.str(name)],
    ['general.file_type', meta.u32(FILE_TYPE[type]!)],
  ]);
  for (const [k, v] of ggufHparams(raw)) md.set(k, v);
  md.set('deepseek2.attention.head_count_kv', meta.u32(d.heads));
  md.set('deepseek2.attention.key_length', meta.u32(d.nope + d.rope));
  md.set('deepseek2.attention.value_length', meta.u32(d.v));
  md.delete('deepseek2.attention.key_length_mla');
  md.delete('deepseek2.attention.value_length_mla');
  for (const [k, v] of ggufTokenizerMetadata(byteTokenizerJson(), byteTokenizerConfig(), raw, raw.vocab_size)) md.set(k, v);
  const st = await openSafetensors(fixtureFiles(name));
  const tensors = [];
  for (const t of gguf.tensors.values()) {
    const m = /^blk\.(\d+)\.attn_([kv])_b\.weight$/.exec(t.name);
    if (!m) {
      tensors.push({ name: t.name, dims: t.dims, dtype: t.dtype!, data: bytes.slice(t.offset, t.offset + t.byteLength) });
    } else if (m[2] === 'k') {
      const kvb = f32(await st.read(`model.layers.${m[1]}.self_attn.kv_b_proj.weight`));
      const dtype = type === 'q8_0' && d.rank % 32 === 0 ? 'q8_0' : 'f32';
      const data = dtype === 'q8_0' ? quantize(kvb, 'q8_0') : new Uint8Array(kvb.buffer);
      tensors.push({ name: `blk.${m[1]}.attn_kv_b.weight`, dims: [d.rank, d.heads * (d.nope + d.v)], dtype, data } as const);
    }
  }
  return writeGGUF(md, tensors);
}

describe.each(['deepseek_v3', 'deepseek_v3_nolora'])('weblm convert %s → deepseek2 GGUF (llama.cpp MLA layout)', (name) => {
  it('f32: attn_k_b / attn_v_b with the dims, values and metadata of llama.cpp, no attn_kv_b; read back under HF names as the safetensors bytes', async () => {
    const { bytes, gguf } = await convert(name, 'f32');
    const d = await dimsOf(name);
    const md = gguf.metadata;
    const key = (k: string) => md.get(`deepseek2.${k}`);
    expect(md.get('general.architecture')).toBe('deepseek2');
    expect([key('attention.head_count'), key('attention.head_count_kv')]).toEqual([d.heads, 1]);
    expect([key('attention.key_length'), key('attention.value_length')]).toEqual([d.rank + d.rope, d.rank]);
    expect([key('attention.key_length_mla'), key('attention.value_length_mla')]).toEqual([d.nope + d.rope, d.v]);
    expect([key('attention.kv_lora_rank'), key('rope.dimension_count'), key('expert_gating_func')]).toEqual([d.rank, d.rope, 2]);
    const st = await openSafetensors(fixtureFiles(name));
    for (let l = 0; l < d.layers; l++) {
      expect(gguf.tensors.has(`blk.${l}.attn_kv_b.weight`)).toBe(false);
      const kB = gguf.tensors.get(`blk.${l}.attn_k_b.weight`)!;
      const vB = gguf.tensors.get(`blk.${l}.attn_v_b.weight`)!;
      expect([kB.dims, kB.dtype, vB.dims, vB.dtype]).toEqual([[d.nope, d.rank, d.heads], 'f32', [d.rank, d.v, d.heads], 'f32']);
      // torch: kv_b.view(heads, nope + v, R); k_b = kv_b[:, :nope].transpose(1, 2); v_b = kv_b[:, nope:].
      const kvb = f32(await st.read(`model.layers.${l}.self_attn.kv_b_proj.weight`));
      const k = f32(bytes.slice(kB.offset, kB.offset + kB.byteLength));
      const v = f32(bytes.slice(vB.offset, vB.offset + vB.byteLength));
      const at = (h: number, row: number, r: number) => kvb[(h * (d.nope + d.v) + row) * d.rank + r]!;
      for (let h = 0; h < d.heads; h++) {
        for (let r = 0; r < d.rank; r++) for (let n = 0; n < d.nope; n++) expect(k[(h * d.rank + r) * d.nope + n]).toBe(at(h, n, r));
        for (let j = 0; j < d.v; j++) for (let r = 0; r < d.rank; r++) expect(v[(h * d.v + j) * d.rank + r]).toBe(at(h, d.nope + j, r));
      }
    }
    const src = await openGGUF(memory(bytes), `${name}.gguf`);
    expect([...src.tensors.keys()].sort()).toEqual([...st.tensors.keys()].sort());
    for (const [n, t] of st.tensors) {
      const g = src.tensors.get(n)!;
      expect([n, g.shape, g.dtype]).toEqual([n, t.shape, t.dtype]);
      expect(await src.read(n)).toEqual(await st.read(n));
    }
    const kv = 'model.layers.0.self_attn.kv_b_proj.weight';
    expect(await src.readRange(kv, 100, 40)).toEqual((await st.read(kv)).slice(100, 140));
    const raw = JSON.parse(await readFile(join(fixtureDir(name), 'config.json'), 'utf8'));
    const { raw: _a, eosTokenIds: _e, ...want } = normalizeConfig(raw, {}, name) as unknown as Record<string, unknown>;
    const { raw: _b, eosTokenIds: _f, ...got } = normalizeConfig(src.config, {}, name) as unknown as Record<string, unknown>;
    expect(got).toEqual(want);
  });

  it('q8_0: k_b / v_b in the dtype llama.cpp picks for their rows (q8_0 when 32 divides them, else f16); kv_b_proj rebuilt from them', async () => {
    const { gguf, bytes } = await convert(name, 'q8_0');
    const d = await dimsOf(name);
    const kB = gguf.tensors.get('blk.0.attn_k_b.weight')!;
    const vB = gguf.tensors.get('blk.0.attn_v_b.weight')!;
    expect(kB.dtype).toBe(d.nope % 32 === 0 ? 'q8_0' : 'f16');
    expect(vB.dtype).toBe(d.rank % 32 === 0 ? 'q8_0' : 'f16');
    const src = await openGGUF(memory(bytes));
    const st = await openSafetensors(fixtureFiles(name));
    const kv = 'model.layers.0.self_attn.kv_b_proj.weight';
    expect(src.tensors.get(kv)!.dtype).toBe('f32');
    const got = f32(await src.read(kv));
    const want = f32(await st.read(kv));
    let amax = 0;
    for (const x of want) amax = Math.max(amax, Math.abs(x));
    expect(maxAbsDiff(got, want)).toBeLessThan(amax / 100); // q8_0 / f16 rounding of the halves
    if (vB.dtype === 'q8_0') {
      const v = dequantize(bytes.slice(vB.offset, vB.offset + vB.byteLength), 'q8_0', d.heads * d.v * d.rank);
      expect(got.subarray(d.nope * d.rank, (d.nope + d.v) * d.rank)).toEqual(v.subarray(0, d.v * d.rank));
    }
  });
});

it('a layer with attn_k_b but no attn_v_b is refused with a typed error', async () => {
  const { bytes, gguf } = await convert('deepseek_v3', 'f32');
  const raw = JSON.parse(await readFile(join(fixtureDir('deepseek_v3'), 'config.json'), 'utf8'));
  const md = new Map<string, GGUFTypedValue>([...ggufHparams(raw)]);
  md.set('tokenizer.ggml.tokens', { type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value: Array.from({ length: 512 }, (_, i) => `t${i}`) });
  const tensors = [...gguf.tensors.values()]
    .filter((t) => t.name !== 'blk.1.attn_v_b.weight')
    .map((t) => ({ name: t.name, dims: t.dims, dtype: t.dtype!, data: bytes.slice(t.offset, t.offset + t.byteLength) }));
  await expect(openGGUF(memory(writeGGUF(md, tensors)))).rejects.toThrow(/blk\.1 has attn_k_b without attn_v_b/);
});

it('the multi-token-prediction layer of a V3 / R1 checkpoint (past num_hidden_layers) is left out, as llama.cpp does', async () => {
  const st = await openSafetensors(fixtureFiles('deepseek_v3'));
  const raw = JSON.parse(await readFile(join(fixtureDir('deepseek_v3'), 'config.json'), 'utf8'));
  const extra = new Map<string, TensorInfo>(
    ['model.layers.3.eh_proj.weight', 'model.layers.3.self_attn.kv_b_proj.weight', 'model.layers.3.enorm.weight'].map((n) => [
      n,
      { name: n, dtype: 'f32', shape: [4], byteLength: 16 },
    ]),
  );
  const src: WeightSource = {
    tensors: new Map([...st.tensors, ...extra]),
    read: (n) => (extra.has(n) ? Promise.resolve(new Uint8Array(16)) : st.read(n)),
    readRange: (n, o, l) => st.readRange(n, o, l),
  };
  const dir = await mkdtemp(join(tmpdir(), 'weblm-ds2-mtp-'));
  const out = join(dir, 'mtp.gguf');
  await writeModelGGUF(
    { raw, weights: src, tokenizerJson: byteTokenizerJson() as Record<string, unknown>, tokenizerConfig: byteTokenizerConfig(), name: 'mtp' },
    out,
    'f32',
  );
  const g = await readGGUF(memory(new Uint8Array(await readFile(out))));
  expect([...g.tensors.keys()].filter((n) => n.startsWith('blk.3.'))).toEqual([]);
  expect(g.tensors.has('blk.2.attn_k_b.weight')).toBe(true);
});

const limitsQ8 = { meanKl: 0.005, top1: 0.9 }; // as test/unit/models.quant.test.ts

describe.each(['deepseek_v3', 'deepseek_v3_nolora'])('deepseek2 GGUF %s on the GPU', (name) => {
  async function logitsOf(bytes: Uint8Array): Promise<Float32Array> {
    const ctx = await gpu();
    const exp = await expected(name);
    const src = await openGGUF(memory(bytes));
    const model = await buildModel(ctx, normalizeConfig(src.config, {}, name), src, { dtype: 'auto', maxContext: exp.inputIds.length + 1 });
    try {
      return await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true }));
    } finally {
      model.dispose();
    }
  }

  it('f32 (split layout): the logits of the safetensors folder (1e-6) and of transformers (1e-3)', async () => {
    const ctx = await gpu();
    const exp = await expected(name);
    const a = await logitsOf((await convert(name, 'f32')).bytes);
    const st = await loadModel(ctx, fixtureFiles(name), { dtype: 'auto', maxContext: exp.inputIds.length + 1 });
    try {
      const b = await ctx.readF32(st.forward(exp.inputIds, 0, { allLogits: true }));
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
    } finally {
      st.dispose();
    }
    expect(maxAbsDiff(a, exp.logits)).toBeLessThan(1e-3);
  });

  it('q8_0 (split layout, loaded as stored): mean KL and top-1 against transformers within the q8_0 limits', async () => {
    const exp = await expected(name);
    const logits = await logitsOf((await convert(name, 'q8_0')).bytes);
    const r = compareLogits(exp.logits, logits, 512);
    console.log(
      `${name} q8_0 GGUF: mean KL ${r.meanKl.toFixed(6)}, top-1 ${(100 * r.top1).toFixed(1)}%, max |Δlogit| ${maxAbsDiff(logits, exp.logits).toFixed(4)}`,
    );
    expect(r.meanKl).toBeLessThan(limitsQ8.meanKl);
    expect(r.top1).toBeGreaterThanOrEqual(limitsQ8.top1);
  });

  it('the legacy layout (one attn_kv_b, per-head key/value lengths) still loads: f32 logits within 1e-3, q8_0 within the limits', async () => {
    const exp = await expected(name);
    const legacy = await legacyGGUF(name, 'f32');
    const g = await readGGUF(memory(legacy));
    expect(g.tensors.has('blk.0.attn_kv_b.weight') && !g.tensors.has('blk.0.attn_k_b.weight')).toBe(true);
    expect(maxAbsDiff(await logitsOf(legacy), exp.logits)).toBeLessThan(1e-3);
    const r = compareLogits(exp.logits, await logitsOf(await legacyGGUF(name, 'q8_0')), 512);
    expect(r.meanKl).toBeLessThan(limitsQ8.meanKl);
    expect(r.top1).toBeGreaterThanOrEqual(limitsQ8.top1);
  });
});

describe('createNodeEngine().load(deepseek_v3 f32 .gguf)', () => {
  const engine = createNodeEngine();
  afterAll(async () => engine.dispose());
  it('greedy generation from ids reproduces greedy_ids', async () => {
    const exp = await expected('deepseek_v3');
    const { path } = await convert('deepseek_v3', 'f32');
    const info = await engine.load(path);
    expect(info).toMatchObject({ modelType: 'deepseek_v3', vocabSize: 512 });
    const ids: number[] = [];
    for await (const c of engine.generate(
      { ids: exp.inputIds },
      { temperature: 0, maxTokens: exp.greedyIds.length, ignoreEos: true },
    ) as AsyncIterable<GenerateChunk>)
      ids.push(...c.tokenIds);
    expect(ids).toEqual(exp.greedyIds);
  });
});

/** llama.cpp (node-llama-cpp's prebuilt CPU binary): logits at every prompt position, then greedy tokens. */
async function llamaCpp(llama: Llama, path: string, prompt: number[], n: number): Promise<{ logits: Float32Array; greedy: number[] }> {
  const model = await llama.loadModel({ modelPath: path });
  try {
    const V = 512; // the fixtures' vocabulary
    // An f32 KV cache (llama.cpp's default is f16, ~2e-3 off in these logits): the latent and rope rows as weblm keeps them.
    const ctx = await model.createContext({
      contextSize: 128,
      batchSize: 64,
      threads: 1,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
    try {
      const seq = ctx.getSequence();
      const out = await seq.controlledEvaluate(prompt.map((t) => [t as Token, { generateNext: { logits: true } }] as const));
      const logits = new Float32Array(prompt.length * V);
      prompt.forEach((_, i) => {
        const m = out[i]?.next.logits;
        if (!m) throw new Error(`llama.cpp returned no logits at position ${i}`);
        for (const [t, l] of m) logits[i * V + t] = l;
      });
      await seq.clearHistory();
      const greedy: number[] = [];
      for await (const t of seq.evaluate(prompt as Token[], { temperature: 0, yieldEogToken: true })) {
        greedy.push(t);
        if (greedy.length === n) break;
      }
      return { logits, greedy };
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

describe('llama.cpp (node-llama-cpp 3.22.1, CPU) runs weblm-converted deepseek2 GGUF files', () => {
  let llama: Llama;
  beforeAll(async () => {
    llama = await cpuLlama();
  });
  afterAll(async () => llama?.dispose());

  for (const name of ['deepseek_v3', 'deepseek_v3_nolora']) {
    it(`${name} f32 (split layout): llama.cpp's logits (f32 KV cache) agree with weblm's within 1e-4 and its greedy tokens equal greedy_ids`, async () => {
      const exp = await expected(name);
      const { path, bytes } = await convert(name, 'f32');
      const got = await llamaCpp(llama, path, exp.inputIds, exp.greedyIds.length);
      const ctx = await gpu();
      const src = await openGGUF(memory(bytes));
      const model = await buildModel(ctx, normalizeConfig(src.config, {}, name), src, { dtype: 'auto', maxContext: exp.inputIds.length + 1 });
      let ours: Float32Array;
      try {
        ours = await ctx.readF32(model.forward(exp.inputIds, 0, { allLogits: true }));
      } finally {
        model.dispose();
      }
      console.log(
        `${name}: llama.cpp vs weblm max |Δlogit| ${maxAbsDiff(got.logits, ours).toExponential(2)}, vs transformers ${maxAbsDiff(got.logits, exp.logits).toExponential(2)}`,
      );
      expect(maxAbsDiff(got.logits, ours)).toBeLessThan(1e-4); // measured 3.7e-6 / 1.9e-6
      expect(got.greedy).toEqual(exp.greedyIds);
    });
  }

  it('deepseek_v3 in the legacy layout (attn_kv_b) runs in llama.cpp too', async () => {
    const exp = await expected('deepseek_v3');
    const dir = await mkdtemp(join(tmpdir(), 'weblm-ds2-legacy-'));
    const path = join(dir, 'legacy.gguf');
    await writeFile(path, await legacyGGUF('deepseek_v3', 'f32'));
    const got = await llamaCpp(llama, path, exp.inputIds, exp.greedyIds.length);
    expect(maxAbsDiff(got.logits, exp.logits)).toBeLessThan(1e-4);
    expect(got.greedy).toEqual(exp.greedyIds);
  });
});

// DeepSeek-V2-Lite and V3 / R1 use YaRN (mscale = mscale_all_dim): the converter writes rope.scaling.* and
// yarn_log_multiplier = 0.1 * mscale_all_dim as llama.cpp's does; llama.cpp, weblm from the GGUF and weblm
// from the safetensors folder then give the same logits (no transformers reference for this config).
describe('deepseek_v3 with YaRN rope scaling (factor 4 over 64 positions, mscale = mscale_all_dim = 0.707)', () => {
  let llama: Llama;
  beforeAll(async () => {
    llama = await cpuLlama();
  });
  afterAll(async () => llama?.dispose());

  it('the GGUF holds the YaRN keys; weblm (folder and GGUF) and llama.cpp agree', async () => {
    const yarn = {
      rope_type: 'yarn',
      rope_theta: 10000,
      factor: 4,
      original_max_position_embeddings: 64,
      beta_fast: 32,
      beta_slow: 1,
      mscale: 0.707,
      mscale_all_dim: 0.707,
    };
    const dir = await editedFixture('deepseek_v3', (d) => editJson(join(d, 'config.json'), (j) => void (j.rope_parameters = yarn)));
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(byteTokenizerConfig()));
    const path = join(dir, 'yarn.gguf');
    await convertToGGUF({ model: dir, out: path, type: 'f32' });
    const bytes = new Uint8Array(await readFile(path));
    const md = (await readGGUF(memory(bytes))).metadata;
    expect(md.get('deepseek2.rope.scaling.type')).toBe('yarn');
    expect([
      md.get('deepseek2.rope.scaling.factor'),
      md.get('deepseek2.rope.scaling.original_context_length'),
      md.get('deepseek2.rope.scaling.yarn_log_multiplier'),
    ]).toEqual([4, 64, 0.0707]);
    const exp = await expected('deepseek_v3');
    const ctx = await gpu();
    const run = async (m: Awaited<ReturnType<typeof loadModel>>) => {
      try {
        return await ctx.readF32(m.forward(exp.inputIds, 0, { allLogits: true }));
      } finally {
        m.dispose();
      }
    };
    const opts = { dtype: 'auto', maxContext: exp.inputIds.length + 1 } as const;
    const fromFolder = await run(await loadModel(ctx, folderFiles(dir), opts));
    const src = await openGGUF(memory(bytes));
    expect(src.config.rope_scaling).toMatchObject({ rope_type: 'yarn', factor: 4, original_max_position_embeddings: 64, mscale: 0.707, mscale_all_dim: 0.707 });
    const fromGguf = await run(await buildModel(ctx, normalizeConfig(src.config, {}, 'yarn.gguf'), src, opts));
    const cpp = await llamaCpp(llama, path, exp.inputIds, 1);
    console.log(
      `yarn: weblm GGUF vs folder ${maxAbsDiff(fromGguf, fromFolder).toExponential(2)}, llama.cpp vs weblm ${maxAbsDiff(cpp.logits, fromFolder).toExponential(2)}, vs unscaled expected ${maxAbsDiff(fromFolder, exp.logits).toFixed(3)}`,
    );
    expect(maxAbsDiff(fromGguf, fromFolder)).toBeLessThan(1e-5);
    expect(maxAbsDiff(cpp.logits, fromFolder)).toBeLessThan(1e-4);
    expect(maxAbsDiff(fromFolder, exp.logits)).toBeGreaterThan(1e-2); // YaRN changed the logits
  });
});
