import { readdirSync, readlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalEngine } from '../../src/engine/localEngine.js';
import { AbortError, InvalidModelError } from '../../src/errors.js';
import type { GpuContext } from '../../src/gpu/context.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import { openNodeSource } from '../../src/node/nodeEngine.js';
import { editedFixture, editJson, fixtureDir } from '../helpers/fixtures.js';

/** File descriptors of this process open on files under `dir`. */
function openUnder(dir: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir + '/')) n++;
    } catch {
      // closed while listing
    }
  }
  return n;
}

describe('folderFiles', () => {
  it('reads every range of a file through one handle, closed by close(); a read after it opens the file again', async () => {
    const dir = fixtureDir('llama');
    const files = folderFiles(dir);
    const f = await files.open('model.safetensors');
    expect(openUnder(dir)).toBe(0); // opened at the first read
    const reads = await Promise.all([f.read(0, 8), f.read(8, 100), f.read(1000, 4000)]);
    const into = new Uint8Array(100);
    await f.readInto!(8, into);
    expect(into).toEqual(reads[1]);
    expect(openUnder(dir)).toBe(1);
    await files.close!();
    expect(openUnder(dir)).toBe(0);
    expect(await f.read(8, 100)).toEqual(reads[1]);
    expect(openUnder(dir)).toBe(1);
    await expect(f.read(f.size - 4, 8)).rejects.toThrow(InvalidModelError);
    await f.close!();
    expect(openUnder(dir)).toBe(0);
  });

  describe('engine.load from a folder', () => {
    const state: { ctx?: GpuContext } = {};
    const engine = new LocalEngine({ gpu: async () => (state.ctx = await createNodeGpu()), openFiles: openNodeSource });
    const dirs: string[] = [];
    afterAll(async () => {
      await engine.dispose();
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    });

    it('closes the file handles after a load, a failed load and an aborted one; an aborted or failed load holds no GPU buffer', async () => {
      const dir = fixtureDir('llama');
      await engine.load(dir, { maxContext: 64 });
      expect(openUnder(dir)).toBe(0);
      await engine.unload();
      const ctx = state.ctx!;
      const before = { live: ctx.liveBuffers, bytes: ctx.bytesAllocated };

      // A layer more than the file holds: it fails at the third layer's first tensor, after two layers were uploaded.
      const missing = await editedFixture('llama', (d) => editJson(join(d, 'config.json'), (j) => void (j.num_hidden_layers = 3)));
      dirs.push(missing);
      const failed = await engine.load(missing, { maxContext: 64 }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(InvalidModelError);
      expect((failed as Error).message).toMatch(/layers\.2\..*missing/);
      expect(openUnder(missing)).toBe(0);
      expect({ live: ctx.liveBuffers, bytes: ctx.bytesAllocated }).toEqual(before);

      const ac = new AbortController();
      let events = 0;
      const aborted = engine.load(dir, { maxContext: 64, signal: ac.signal, onProgress: () => ++events === 2 && ac.abort() });
      await expect(aborted).rejects.toBeInstanceOf(AbortError);
      expect(openUnder(dir)).toBe(0);
      expect({ live: ctx.liveBuffers, bytes: ctx.bytesAllocated }).toEqual(before);
      expect(await engine.info()).toBeUndefined();

      await engine.load(dir, { maxContext: 64 }); // and the next load works
      expect(openUnder(dir)).toBe(0);
    });
  });
});
