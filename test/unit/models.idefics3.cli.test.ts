import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { main } from '../../src/node/cliRun.js';
import { cliSummary, logitsDump } from '../helpers/cli.js';
import { expectedTensors, fixtureDir } from '../helpers/fixtures.js';
import { maxAbsDiff } from '../helpers/random.js';

const run = (args: string[]) => cliSummary(main, args);

async function expectedOf() {
  const t = await expectedTensors('idefics3');
  return { inputIds: t.ids('input_ids'), greedyIds: t.ids('greedy_ids'), logits: t.f32('logits') };
}

const image = () => join(fixtureDir('idefics3'), 'image.png');

// Tolerance: logits within 1e-3 of transformers at every prompt position (f32), greedy ids equal.
describe('weblm run --image (idefics3 fixture)', () => {
  it('--prompt with --image: the chat template, the tile layout of Idefics3Processor, the logits and greedy ids of transformers', async () => {
    const exp = await expectedOf();
    const dump = await logitsDump();
    const summary = await run([
      '--model',
      fixtureDir('idefics3'),
      '--prompt',
      'What is in the image?',
      '--image',
      image(),
      '--max-new-tokens',
      String(exp.greedyIds.length),
      '--dtype',
      'f32',
      '--dump-logits',
      dump.path,
    ]);
    expect(summary.model_type).toBe('idefics3');
    expect(summary.input_ids).toEqual(exp.inputIds);
    expect(summary.generated_ids).toEqual(exp.greedyIds);
    expect(maxAbsDiff(await dump.read(), exp.logits)).toBeLessThan(1e-3);
  });

  it('--input-ids with one image token per image: expanded with the tokenizer to the tile layout', async () => {
    const exp = await expectedOf();
    // <|im_start|>User:<image>What ... : the layout (fake, row/col tokens, newlines, global image) from the tokenizer.
    const first = exp.inputIds.indexOf(4);
    const last = exp.inputIds.lastIndexOf(4);
    const one = [...exp.inputIds.slice(0, first), 5, ...exp.inputIds.slice(last + 1)];
    const r1 = await run(['--model', fixtureDir('idefics3'), '--input-ids', one.join(','), '--image', image(), '--max-new-tokens', '3', '--dtype', 'f32']);
    expect(r1.input_ids).toEqual(exp.inputIds);
    expect(r1.generated_ids).toEqual(exp.greedyIds.slice(0, 3));
  });

  it('rejects image tokens that do not match the images', async () => {
    const exp = await expectedOf();
    const ids = exp.inputIds.join(',');
    await expect(main(['--model', fixtureDir('idefics3'), '--input-ids', ids])).rejects.toThrow(InvalidArgumentError);
    await expect(main(['--model', fixtureDir('idefics3'), '--input-ids', ids, '--image', image(), '--image', image()])).rejects.toThrow(
      /20 image tokens \(id 5\) for 2 images/,
    );
  });
});
