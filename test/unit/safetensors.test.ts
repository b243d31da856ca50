import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidModelError, ModelNotFoundError, NetworkError, UnsupportedModelError } from '../../src/errors.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { httpFiles } from '../../src/weights/httpFiles.js';
import { targetDType, toF32 } from '../../src/weights/loadTensors.js';
import { openSafetensors, safetensorsShards } from '../../src/weights/safetensors.js';
import { fixtureDir, writeSafetensors } from '../helpers/fixtures.js';

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer);

async function folderWith(files: Record<string, Uint8Array | string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weblm-st-'));
  for (const [name, data] of Object.entries(files)) await writeFile(join(dir, name), data);
  return dir;
}

describe('safetensors', () => {
  it('reads the header and tensors of a fixture', async () => {
    const src = await openSafetensors(folderFiles(fixtureDir('llama')));
    const q = src.tensors.get('model.layers.0.self_attn.q_proj.weight')!;
    expect(q).toMatchObject({ dtype: 'f32', shape: [64, 64], byteLength: 64 * 64 * 4 });
    const bytes = await src.read('model.layers.0.self_attn.q_proj.weight');
    expect(bytes.byteLength).toBe(64 * 64 * 4);
    expect(new Float32Array(bytes.slice().buffer).some((v) => v !== 0)).toBe(true);
  });

  it('reads sharded checkpoints through model.safetensors.index.json', async () => {
    const a = new Float32Array([1, 2, 3]);
    const b = new Float32Array([4, 5, 6, 7, 8, 9]);
    const dir = await folderWith({
      'model-00001-of-00002.safetensors': writeSafetensors({ a: { dtype: 'F32', shape: [3], data: bytesOf(a) } }),
      'model-00002-of-00002.safetensors': writeSafetensors({ b: { dtype: 'F32', shape: [2, 3], data: bytesOf(b) } }),
      'model.safetensors.index.json': JSON.stringify({
        weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
      }),
    });
    const src = await openSafetensors(folderFiles(dir));
    expect([...src.tensors.keys()].sort()).toEqual(['a', 'b']);
    expect(Array.from(new Float32Array((await src.read('b')).slice().buffer))).toEqual(Array.from(b));
  });

  it('lists each shard of an index once and refuses an index without a weight map', () => {
    const index = JSON.stringify({ metadata: {}, weight_map: { a: 'one.safetensors', b: 'two.safetensors', c: 'one.safetensors' } });
    expect(safetensorsShards(index, 'index.json')).toEqual(['one.safetensors', 'two.safetensors']);
    expect(() => safetensorsShards('{', 'index.json')).toThrow(/index.json is not valid JSON/);
    expect(() => safetensorsShards('{"metadata": {}}', 'index.json')).toThrow(InvalidModelError);
    expect(() => safetensorsShards('{"weight_map": {"a": 3}}', 'index.json')).toThrow(/no weight_map of tensor names to files/);
  });

  it('converts f16 and bf16 to f32, and picks the load dtype per matrix', () => {
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x3555, 0x0001]); // 1, -2, 0.333, smallest subnormal
    expect(Array.from(toF32(new Uint8Array(f16.buffer), 'f16', 4))).toEqual([1, -2, 0.333251953125, 2 ** -24]);
    const bf16 = new Uint16Array([0x3f80, 0xc040]); // 1, -3
    expect(Array.from(toF32(new Uint8Array(bf16.buffer), 'bf16', 2))).toEqual([1, -3]);
    expect(targetDType('bf16', 'auto', 64)).toBe('bf16');
    expect(targetDType('bf16', 'q4_0', 64)).toBe('q4_0');
    expect(targetDType('bf16', 'q4_0', 48)).toBe('bf16'); // rows are not whole 32-value blocks
    expect(targetDType('q4_0', 'q8_0', 64)).toBe('q4_0'); // never requantize up from a coarser format
  });

  it('rejects a truncated file, naming the tensor', async () => {
    const whole = await readFile(join(fixtureDir('llama'), 'model.safetensors'));
    const dir = await folderWith({ 'model.safetensors': whole.subarray(0, whole.byteLength - 1000) });
    await expect(openSafetensors(folderFiles(dir))).rejects.toThrow(InvalidModelError);
    await expect(openSafetensors(folderFiles(dir))).rejects.toThrow(/truncated/);
  });

  it('rejects a header longer than the file and a non-JSON header', async () => {
    const bad = new Uint8Array(16);
    new DataView(bad.buffer).setBigUint64(0, 1000n, true);
    await expect(openSafetensors(folderFiles(await folderWith({ 'model.safetensors': bad })))).rejects.toThrow(/header of 1000 bytes/);
    const garbage = new Uint8Array(16);
    new DataView(garbage.buffer).setBigUint64(0, 8n, true);
    garbage.set(new TextEncoder().encode('{{{{{{{{'), 8);
    await expect(openSafetensors(folderFiles(await folderWith({ 'model.safetensors': garbage })))).rejects.toThrow(/not valid JSON/);
  });

  it('rejects a tensor whose byte range does not match its shape', async () => {
    const file = writeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Uint8Array(12) } });
    await expect(openSafetensors(folderFiles(await folderWith({ 'model.safetensors': file })))).rejects.toThrow(/w \(F32 \[4\]\) has 12 bytes, expected 16/);
  });

  it('names a missing tensor and an unsupported dtype', async () => {
    const file = writeSafetensors({ d: { dtype: 'F64', shape: [2], data: new Uint8Array(16) } });
    const src = await openSafetensors(folderFiles(await folderWith({ 'model.safetensors': file })));
    await expect(src.read('nope')).rejects.toThrow(InvalidModelError);
    await expect(src.read('nope')).rejects.toThrow(/tensor nope is missing/);
    await expect(src.read('d')).rejects.toThrow(UnsupportedModelError);
  });

  it('reports a missing file of a folder', async () => {
    const files = folderFiles(await folderWith({}));
    await expect(files.open('model.safetensors')).rejects.toThrow(ModelNotFoundError);
    await expect(files.text('config.json')).rejects.toThrow(ModelNotFoundError);
    expect(await files.has('config.json')).toBe(false);
  });
});

describe('httpFiles', () => {
  let server: Server;
  let base = '';
  let rangeSupport = true;
  /** Range responses still to cut to nothing (a connection dropped mid-body). */
  let cutRanges = 0;
  beforeAll(async () => {
    const dir = fixtureDir('llama');
    server = createServer(async (req, res) => {
      const path = join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname.replace(/^\/m\//, '')));
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch {
        res.writeHead(404).end();
        return;
      }
      if (req.method === 'HEAD') return void res.writeHead(200, { 'content-length': size }).end();
      const data = await readFile(path);
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (m && rangeSupport) {
        const [s, e] = [Number(m[1]), Number(m[2])];
        const cut = s > 0 && cutRanges > 0 && cutRanges--;
        res.writeHead(206, { 'content-range': `bytes ${s}-${e}/${size}` }).end(cut ? undefined : data.subarray(s, e + 1));
      } else {
        res.writeHead(200).end(data);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}/m`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('reads the same tensors over HTTP Range requests as from the folder', async () => {
    rangeSupport = true;
    const files = httpFiles(base);
    expect(await files.has('config.json')).toBe(true);
    expect(await files.has('nothing.json')).toBe(false);
    expect(JSON.parse(await files.text('config.json')).model_type).toBe('llama');
    const remote = await openSafetensors(files);
    const local = await openSafetensors(folderFiles(fixtureDir('llama')));
    const name = 'model.layers.1.mlp.down_proj.weight';
    expect(Buffer.from(await remote.read(name)).equals(Buffer.from(await local.read(name)))).toBe(true);
    await expect(files.text('missing.json')).rejects.toThrow(ModelNotFoundError);
  });

  it('asks again for a range whose body came back short, and says so after three tries', async () => {
    const source = await httpFiles(base).open('model.safetensors');
    const want = await source.read(100, 256);
    cutRanges = 2;
    expect(Buffer.from(await source.read(100, 256)).equals(Buffer.from(want))).toBe(true);
    cutRanges = 3;
    await expect(source.read(100, 256)).rejects.toThrow(/asked for 256 bytes at 100, got 0 \(3 tries\)/);
    cutRanges = 0;
  });

  it('says so when the server ignores Range', async () => {
    rangeSupport = false;
    await expect(httpFiles(base).open('model.safetensors')).rejects.toThrow(NetworkError);
    rangeSupport = true;
  });
});
