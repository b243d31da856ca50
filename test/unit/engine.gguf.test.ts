import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalEngine } from '../../src/engine/localEngine.js';
import type { Engine, GenerateChunk } from '../../src/engine/types.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { convertToGGUF } from '../../src/node/convert.js';
import { folderFiles } from '../../src/node/folderFiles.js';
import { createNodeGpu } from '../../src/node/gpu.js';
import { createNodeEngine } from '../../src/node/nodeEngine.js';
import { byteTokenizerConfig, byteTokenizerJson } from '../e2e/pages/engineTokenizer.js';
import { expected, fixtureDir } from '../helpers/fixtures.js';
import { startHubServer, type HubServer } from '../helpers/hubServer.js';

async function collect(it: AsyncIterable<GenerateChunk>): Promise<GenerateChunk[]> {
  const out: GenerateChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}
const idsOf = (chunks: GenerateChunk[]) => chunks.flatMap((c) => c.tokenIds);
const textOf = (chunks: GenerateChunk[]) => chunks.map((c) => c.text).join('');

// The qwen2 fixture with the byte-level test tokenizer (hf/), converted to an f32 GGUF alone in gguf/qwen2/.
describe('engine.load of a GGUF (qwen2 fixture converted at f32)', () => {
  let root: string;
  let hf: string;
  let ggufDir: string;
  let ggufPath: string;
  let server: HubServer;
  const engine = createNodeEngine();
  afterAll(async () => {
    await engine.dispose();
    await server?.close();
  });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'weblm-engine-gguf-'));
    hf = join(root, 'hf');
    ggufDir = join(root, 'gguf', 'qwen2');
    await mkdir(hf);
    await mkdir(ggufDir, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) await copyFile(join(fixtureDir('qwen2'), f), join(hf, f));
    await writeFile(join(hf, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()));
    await writeFile(join(hf, 'tokenizer_config.json'), JSON.stringify(byteTokenizerConfig()));
    ggufPath = join(ggufDir, 'qwen2-f32.gguf');
    await convertToGGUF({ model: hf, out: ggufPath, type: 'f32' });
    server = await startHubServer({ root: join(root, 'gguf'), api: false });
  });

  it('a path to a .gguf file: greedy generation from ids reproduces greedy_ids', async () => {
    const exp = await expected('qwen2');
    const info = await engine.load(ggufPath);
    expect(info).toMatchObject({
      model: join(ggufDir, 'qwen2-f32.gguf'),
      modelType: 'qwen2',
      vocabSize: 512,
      dtype: 'f32',
      hasTokenizer: true,
      hasChatTemplate: true,
    });
    const chunks = await collect(engine.generate({ ids: exp.inputIds }, { temperature: 0, maxTokens: exp.greedyIds.length, ignoreEos: true }));
    expect(idsOf(chunks)).toEqual(exp.greedyIds);
  });

  it("text and chat use the GGUF's own tokenizer and template: the same output as the safetensors folder with tokenizer.json", async () => {
    const opts = { temperature: 0, maxTokens: 10, ignoreEos: true };
    const fromGguf = await collect(engine.generate('Hello, world', opts));
    const chatGguf = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 8, temperature: 0 });
    expect(fromGguf.at(-1)!.stats!.promptTokens).toBe('Hello, world'.length); // one byte, one token
    const st = new LocalEngine({ gpu: () => createNodeGpu() });
    try {
      await st.load({ files: folderFiles(hf) });
      const fromSt = await collect(st.generate('Hello, world', opts));
      expect(idsOf(fromGguf)).toEqual(idsOf(fromSt));
      expect(textOf(fromGguf)).toBe(textOf(fromSt));
      const chatSt = await st.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 8, temperature: 0 });
      expect(chatGguf.usage).toEqual(chatSt.usage);
      expect(chatGguf.choices[0]!.message).toEqual(chatSt.choices[0]!.message);
    } finally {
      await st.dispose();
    }
  });

  const greedyFrom = async (e: Engine, source: Parameters<Engine['load']>[0]) => {
    const exp = await expected('qwen2');
    const info = await e.load(source);
    const ids = idsOf(await collect(e.generate({ ids: exp.inputIds }, { temperature: 0, maxTokens: 6, ignoreEos: true })));
    expect(ids).toEqual(exp.greedyIds.slice(0, 6));
    return info;
  };

  it('{ files } of a folder holding one .gguf and no config.json, and { files, gguf }', async () => {
    expect((await greedyFrom(engine, { files: folderFiles(ggufDir) })).model).toBe(ggufPath);
    expect((await greedyFrom(engine, { files: folderFiles(ggufDir), gguf: 'qwen2-f32.gguf' })).hasTokenizer).toBe(true);
  });

  it('{ blobs } holding a .gguf', async () => {
    const blob = new Blob([await readFile(ggufPath)]);
    const info = await greedyFrom(engine, {
      blobs: [
        { path: 'qwen2-f32.gguf', blob },
        { path: 'README.md', blob: new Blob(['x']) },
      ],
      name: 'picked',
    });
    expect(info.model).toBe('picked/qwen2-f32.gguf');
  });

  it('a URL ending in .gguf (Range reads over HTTP)', async () => {
    const url = `${server.url}/org/qwen2/resolve/main/qwen2-f32.gguf`;
    expect((await greedyFrom(engine, url)).model).toBe(url);
    expect((await greedyFrom(engine, { url })).hasChatTemplate).toBe(true);
  });

  it('two .gguf files and no config.json: a typed error asking to name one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weblm-engine-2gguf-'));
    await copyFile(ggufPath, join(dir, 'a.gguf'));
    await copyFile(ggufPath, join(dir, 'b.gguf'));
    await expect(engine.load({ files: folderFiles(dir) })).rejects.toThrow(InvalidArgumentError);
    await expect(engine.load({ files: folderFiles(dir) })).rejects.toThrow(/name one/);
  });
});
