import { describe, expect, it } from 'vitest';
import { localFiles, pickedFolder } from '../../src/browser/localFiles.js';
import { openModelSource } from '../../src/engine/modelSource.js';
import { InvalidModelError, ModelNotFoundError } from '../../src/errors.js';

describe('localFiles (ModelFiles over Blobs)', () => {
  const bytes = Uint8Array.from({ length: 37 }, (_, i) => (i * 7 + 3) & 255);
  const files = [
    { path: 'config.json', blob: new Blob(['{"model_type":"qwen2"}']) },
    { path: 'sub/model.safetensors', blob: new Blob([bytes]) },
  ];

  it('reads text and byte ranges, and reports missing files and out-of-range reads', async () => {
    const m = localFiles(files, 'picked');
    expect(m.location).toBe('picked');
    expect(await m.has('config.json')).toBe(true);
    expect(await m.has('tokenizer.json')).toBe(false);
    expect(JSON.parse(await m.text('config.json'))).toEqual({ model_type: 'qwen2' });
    const src = await m.open('sub/model.safetensors');
    expect(src.size).toBe(37);
    expect(Array.from(await src.read(5, 11))).toEqual(Array.from(bytes.subarray(5, 16)));
    expect((await src.read(37, 0)).byteLength).toBe(0);
    await expect(src.read(30, 8)).rejects.toBeInstanceOf(InvalidModelError);
    await expect(m.open('missing.bin')).rejects.toBeInstanceOf(ModelNotFoundError);
  });

  it('drops the picked folder name from webkitRelativePath', () => {
    const f = new File(['x'], 'config.json');
    Object.defineProperty(f, 'webkitRelativePath', { value: 'MyModel/config.json' });
    const g = new File(['y'], 'model.safetensors');
    Object.defineProperty(g, 'webkitRelativePath', { value: 'MyModel/sub/model.safetensors' });
    expect(pickedFolder([f, g]).map((e) => e.path)).toEqual(['config.json', 'sub/model.safetensors']);
  });

  it('is the engine source { blobs }', async () => {
    const { files: m } = await openModelSource({ blobs: files, name: 'folder' }, undefined);
    expect(m.location).toBe('folder');
    expect((await m.open('sub/model.safetensors')).size).toBe(37);
  });
});
