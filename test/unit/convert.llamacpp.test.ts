import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Llama, type Token } from 'node-llama-cpp';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidModelError } from '../../src/errors.js';
import { convertToGGUF } from '../../src/node/convert.js';
import { expected, fixtureDir, fixtureWithTokenizer } from '../helpers/fixtures.js';
import { cpuLlama } from '../helpers/llamaCpp.js';

/** Greedy continuation by llama.cpp (node-llama-cpp's prebuilt CPU binary) from token ids. */
async function llamaCppGreedy(llama: Llama, path: string, prompt: number[], n: number): Promise<number[]> {
  const model = await llama.loadModel({ modelPath: path });
  try {
    const ctx = await model.createContext({ contextSize: 128, batchSize: 64, threads: 1 });
    try {
      const out: number[] = [];
      for await (const t of ctx.getSequence().evaluate(prompt as Token[], { temperature: 0, yieldEogToken: true })) {
        out.push(t);
        if (out.length === n) break;
      }
      return out;
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

describe('weblm convert → llama.cpp (node-llama-cpp, CPU)', () => {
  let llama: Llama;
  beforeAll(async () => {
    llama = await cpuLlama();
  });
  afterAll(async () => llama?.dispose());

  for (const name of ['llama', 'qwen2', 'qwen3', 'qwen2_moe', 'qwen3_moe', 'mixtral']) {
    it(`${name} at f32: llama.cpp's greedy tokens equal greedy_ids`, async () => {
      const dir = await fixtureWithTokenizer(name);
      const out = join(dir, 'model.gguf');
      await convertToGGUF({ model: dir, out, type: 'f32' });
      const exp = await expected(name);
      const got = await llamaCppGreedy(llama, out, exp.inputIds, exp.greedyIds.length);
      expect(got).toEqual(exp.greedyIds);
    });
  }

  it('the CLI (weblm convert --model --out --type q8_0) writes a GGUF that llama.cpp loads and runs', async () => {
    const dir = await fixtureWithTokenizer('qwen2');
    const out = join(dir, 'cli.gguf');
    const { main } = await import('../../src/node/cliConvert.js');
    expect(await main(['--model', dir, '--out', out, '--type', 'q8_0', '--quiet'])).toBe(0);
    const exp = await expected('qwen2');
    const got = await llamaCppGreedy(llama, out, exp.inputIds, 4);
    expect(got).toHaveLength(4);
    expect(got[0]).toBe(exp.greedyIds[0]); // logits are peaked: the first Q8_0 token agrees with f32
  });

  it('a folder without tokenizer.json is refused with a typed error, and no file is written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weblm-conv-novocab-'));
    const out = join(dir, 'model.gguf');
    await expect(convertToGGUF({ model: fixtureDir('llama'), out, type: 'f32' })).rejects.toThrow(InvalidModelError);
    await expect(stat(out)).rejects.toThrow();
  });
});
