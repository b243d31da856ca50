import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidModelError, ModelNotFoundError, UnsupportedModelError } from '../../src/errors.js';
import { loadModel } from '../../src/models/load.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { readSafetensorsFile } from '../../src/weights/safetensors.js';
import { editedFixture, editJson, fixtureDir, writeSafetensors } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';

const load = async (dir: string) => loadModel(await gpu(), folderFiles(dir), { maxContext: 16 });

async function withoutTensor(dir: string, name: string): Promise<void> {
  const file = join(dir, 'model.safetensors');
  const all = await readSafetensorsFile(await folderFiles(dir).open('model.safetensors'), file);
  const kept: Parameters<typeof writeSafetensors>[0] = {};
  for (const [k, v] of all) if (k !== name) kept[k] = { dtype: v.dtype.toUpperCase(), shape: [...v.shape], data: v.data };
  await writeFile(file, writeSafetensors(kept));
}

describe('loading bad checkpoints fails with typed errors naming the problem', () => {
  it('missing model_type', async () => {
    const dir = await editedFixture('llama', (d) => editJson(join(d, 'config.json'), (j) => delete j.model_type));
    await expect(load(dir)).rejects.toThrow(InvalidModelError);
    await expect(load(dir)).rejects.toThrow(/config.json has no model_type/);
  });

  it('unsupported model_type', async () => {
    const dir = await editedFixture('llama', (d) => editJson(join(d, 'config.json'), (j) => (j.model_type = 'mamba')));
    await expect(load(dir)).rejects.toThrow(UnsupportedModelError);
    await expect(load(dir)).rejects.toThrow(/model_type mamba is not supported/);
  });

  it('missing tensor', async () => {
    const dir = await editedFixture('llama', (d) => withoutTensor(d, 'model.layers.1.mlp.up_proj.weight'));
    await expect(load(dir)).rejects.toThrow(InvalidModelError);
    await expect(load(dir)).rejects.toThrow(/model.layers.1.mlp.up_proj.weight is missing/);
  });

  it('missing lm_head when embeddings are not tied', async () => {
    const dir = await editedFixture('llama', (d) => withoutTensor(d, 'lm_head.weight'));
    await expect(load(dir)).rejects.toThrow(/lm_head.weight is missing/);
  });

  it('shape mismatch against the config', async () => {
    const dir = await editedFixture('llama', (d) => editJson(join(d, 'config.json'), (j) => (j.intermediate_size = 96)));
    await expect(load(dir)).rejects.toThrow(InvalidModelError);
    await expect(load(dir)).rejects.toThrow(/mlp.gate_proj.weight has shape \[128,64\] but the config implies \[96,64\]/);
  });

  it('truncated weights file', async () => {
    const size = (await readFile(join(fixtureDir('llama'), 'model.safetensors'))).byteLength;
    const dir = await editedFixture('llama', (d) => truncate(join(d, 'model.safetensors'), size - 4096));
    await expect(load(dir)).rejects.toThrow(InvalidModelError);
    await expect(load(dir)).rejects.toThrow(/truncated/);
  });

  it('missing config.json or weights', async () => {
    await expect(load(join(fixtureDir('llama'), 'nope'))).rejects.toThrow(ModelNotFoundError);
    const dir = await editedFixture('llama', async (d) => {
      const { rm } = await import('node:fs/promises');
      await rm(join(d, 'model.safetensors'));
    });
    await expect(load(dir)).rejects.toThrow(/model.safetensors: no such file/);
  });
});
