import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertToGGUF, type ConvertType } from '../../src/node/convert.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { readSafetensorsFile } from '../../src/weights/safetensors.js';
import type { ModelFiles } from '../../src/weights/files.js';
import { byteTokenizerConfig, byteTokenizerJson } from '../e2e/pages/engineTokenizer.js';

/** test/fixtures in the repository (WEBLM_FIXTURES overrides). */
export const FIXTURES = process.env.WEBLM_FIXTURES ?? fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface Expected {
  inputIds: number[];
  logits: Float32Array; // [T, V]
  greedyIds: number[];
  finalLogits: Float32Array; // [V]
  hidden: Float32Array[]; // hidden.0 .. hidden.N, each [T, H]
}

export function fixtureDir(name: string): string {
  const dir = join(FIXTURES, name);
  if (!existsSync(join(dir, 'config.json'))) throw new Error(`fixture ${name} not found in ${FIXTURES}`);
  return dir;
}

export function fixtureFiles(name: string): ModelFiles {
  return folderFiles(fixtureDir(name));
}

const f32 = (b: Uint8Array) => new Float32Array(b.slice().buffer);
const i32 = (b: Uint8Array) => Array.from(new Int32Array(b.slice().buffer));

/** The tensors of a fixture's expected.safetensors: `f32` and `ids` (i32, as numbers) read one, throwing where it is missing. */
export interface ExpectedTensors {
  has(key: string): boolean;
  f32(key: string): Float32Array;
  ids(key: string): number[];
}

export async function expectedTensors(name: string): Promise<ExpectedTensors> {
  const t = await readSafetensorsFile(await fixtureFiles(name).open('expected.safetensors'), `${name}/expected.safetensors`);
  const get = (k: string) => {
    const v = t.get(k);
    if (!v) throw new Error(`${name}/expected.safetensors has no ${k}`);
    return v.data;
  };
  return { has: (k) => t.has(k), f32: (k) => f32(get(k)), ids: (k) => i32(get(k)) };
}

/** expected.safetensors of a fixture: the prompt, logits at every position, greedy ids, hidden states. */
export async function expected(name: string): Promise<Expected> {
  const t = await expectedTensors(name);
  const hidden: Float32Array[] = [];
  for (let i = 0; t.has(`hidden.${i}`); i++) hidden.push(t.f32(`hidden.${i}`));
  return {
    inputIds: t.ids('input_ids'),
    logits: t.f32('logits'),
    greedyIds: t.ids('greedy_ids'),
    finalLogits: t.f32('final_logits'),
    hidden,
  };
}

/** Bytes of a .safetensors file holding `tensors` (for tests of the reader and of bad checkpoints). */
export function writeSafetensors(tensors: Record<string, { dtype: string; shape: number[]; data: Uint8Array }>): Uint8Array {
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.data.byteLength] };
    at += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + json.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let p = 8 + json.length;
  for (const t of Object.values(tensors)) {
    out.set(t.data, p);
    p += t.data.byteLength;
  }
  return out;
}

/** A temporary copy of a fixture's model files, edited by `edit` (for the bad-input tests). */
export async function editedFixture(name: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `weblm-${name}-`));
  for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) await copyFile(join(fixtureDir(name), f), join(dir, f));
  await edit(dir);
  return dir;
}

/**
 * A temporary copy of a fixture with the byte-level tokenizer of the engine tests (the fixtures ship none),
 * converted to `<dir>/model.gguf` when `gguf` names a type: what weblm convert and llama.cpp need.
 */
export async function fixtureWithTokenizer(name: string, gguf?: ConvertType): Promise<string> {
  const dir = await editedFixture(name, async (d) => {
    await writeFile(join(d, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()));
    await writeFile(join(d, 'tokenizer_config.json'), JSON.stringify(byteTokenizerConfig()));
  });
  if (gguf) await convertToGGUF({ model: dir, out: join(dir, 'model.gguf'), type: gguf });
  return dir;
}

export async function editJson(path: string, edit: (j: Record<string, unknown>) => void): Promise<void> {
  const j = JSON.parse(await readFile(path, 'utf8'));
  edit(j);
  await writeFile(path, JSON.stringify(j));
}

/** log-softmax of one row. */
export function logSoftmax(row: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]!);
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i]! - m);
  const lse = m + Math.log(s);
  return Float64Array.from({ length: row.length }, (_, i) => row[i]! - lse);
}

/**
 * The thresholds of a model quantized at load against its f32 logits (test/unit/models.quant.test.ts, and
 * every test of a quantized or approximate path held to them): mean KL(p_f32 || p_quant) over the prompt
 * positions in nats, and the share of positions whose argmax agrees.
 */
export const QUANT_LIMITS = {
  q8_0: { meanKl: 0.005, top1: 0.9 },
  q4_0: { meanKl: 0.1, top1: 0.66 },
} as const;

/** Mean KL(p_ref || p) over rows and the share of rows whose argmax agrees. */
export function compareLogits(ref: Float32Array, got: Float32Array, V: number): { meanKl: number; top1: number } {
  const rows = ref.length / V;
  let kl = 0;
  let agree = 0;
  for (let r = 0; r < rows; r++) {
    const a = logSoftmax(ref.subarray(r * V, (r + 1) * V));
    const b = logSoftmax(got.subarray(r * V, (r + 1) * V));
    let k = 0;
    let ia = 0;
    let ib = 0;
    for (let i = 0; i < V; i++) {
      k += Math.exp(a[i]!) * (a[i]! - b[i]!);
      if (a[i]! > a[ia]!) ia = i;
      if (b[i]! > b[ib]!) ib = i;
    }
    kl += k;
    if (ia === ib) agree++;
  }
  return { meanKl: kl / rows, top1: agree / rows };
}
