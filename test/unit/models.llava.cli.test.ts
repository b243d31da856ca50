import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidImageError } from '../../src/errors.js';
import { main } from '../../src/node/cliRun.js';
import { IMAGE_TOKEN_ID } from '../e2e/pages/llavaTokenizer.js';
import { cliSummary, logitsDump } from '../helpers/cli.js';
import { fixtureDir } from '../helpers/fixtures.js';
import { llavaExpected, llavaImagePath, llavaWithTokenizer } from '../helpers/llava.js';
import { maxAbsDiff } from '../helpers/random.js';

const run = (args: string[]) => cliSummary(main, args);

// Tolerance: logits within 1e-3 of transformers at every prompt position (f32), greedy ids equal.
describe('weblm run --image (llava fixture)', () => {
  it('fills the image tokens of --input-ids, dumps the logits, reproduces the greedy ids', async () => {
    const exp = await llavaExpected();
    const dump = await logitsDump();
    const summary = await run([
      '--model',
      fixtureDir('llava'),
      '--input-ids',
      exp.inputIds.join(','),
      '--image',
      llavaImagePath(),
      '--max-new-tokens',
      String(exp.greedyIds.length),
      '--temperature',
      '0',
      '--dtype',
      'f32',
      '--dump-logits',
      dump.path,
    ]);
    expect(summary.model_type).toBe('llava');
    expect(summary.generated_ids).toEqual(exp.greedyIds);
    expect(maxAbsDiff(await dump.read(), exp.logits)).toBeLessThan(1e-3);
    // One image token per image is expanded to the 16 the tower gives.
    const first = exp.inputIds.indexOf(IMAGE_TOKEN_ID);
    const one = [...exp.inputIds.slice(0, first), IMAGE_TOKEN_ID, ...exp.inputIds.slice(first + 16)];
    const r = await run(['--model', fixtureDir('llava'), '--input-ids', one.join(','), '--image', llavaImagePath(), '--max-new-tokens', '4', '--dtype', 'f32']);
    expect(r.input_ids).toEqual(exp.inputIds);
    expect(r.generated_ids).toEqual(exp.greedyIds.slice(0, 4));
  });

  it('--prompt with --image renders one user message with the chat template (images first, as llava-1.5)', async () => {
    const dir = await llavaWithTokenizer();
    const summary = await run(['--model', dir, '--prompt', 'hi', '--image', llavaImagePath(), '--image', llavaImagePath(), '--max-new-tokens', '2']);
    const ids = summary.input_ids as number[];
    expect(ids.filter((i) => i === IMAGE_TOKEN_ID).length).toBe(32);
    const text = (s: string) => Array.from(new TextEncoder().encode(s));
    const image = new Array(16).fill(IMAGE_TOKEN_ID);
    expect(ids).toEqual([...text('USER: '), ...image, ...text('\n'), ...image, ...text('\nhi ASSISTANT:')]);
  });

  it('rejects an image count that does not match, undecodable files, images for a text model', async () => {
    const exp = await llavaExpected();
    const ids = exp.inputIds.join(',');
    await expect(main(['--model', fixtureDir('llava'), '--input-ids', ids])).rejects.toThrow(InvalidArgumentError);
    await expect(main(['--model', fixtureDir('llava'), '--input-ids', ids, '--image', llavaImagePath(), '--image', llavaImagePath()])).rejects.toThrow(
      /16 image tokens .* for 2 images/,
    );
    const junk = join(await mkdtemp(join(tmpdir(), 'weblm-junk-')), 'junk.png');
    await writeFile(junk, 'not an image');
    await expect(main(['--model', fixtureDir('llava'), '--input-ids', ids, '--image', junk])).rejects.toThrow(InvalidImageError);
    await expect(main(['--model', fixtureDir('llama'), '--input-ids', '1,2', '--image', llavaImagePath()])).rejects.toThrow(/has no vision encoder/);
  });
});
