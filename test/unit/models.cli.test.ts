import { describe, expect, it } from 'vitest';
import { main } from '../../src/node/cliRun.js';
import { cliSummary, logitsDump } from '../helpers/cli.js';
import { expected, fixtureDir } from '../helpers/fixtures.js';
import { maxAbsDiff } from '../helpers/random.js';

describe('weblm run', () => {
  it('prints the greedy continuation as a JSON last line and dumps the prompt logits', async () => {
    const exp = await expected('qwen3');
    const dump = await logitsDump();
    const summary = await cliSummary(main, [
      '--model',
      fixtureDir('qwen3'),
      '--input-ids',
      exp.inputIds.join(','),
      '--max-new-tokens',
      String(exp.greedyIds.length),
      '--temperature',
      '0',
      '--dtype',
      'f32',
      '--dump-logits',
      dump.path,
    ]);
    expect(summary.input_ids).toEqual(exp.inputIds);
    expect(summary.generated_ids).toEqual(exp.greedyIds);
    expect(summary.prefill_ms).toBeGreaterThan(0);
    expect(summary.decode_tokens_per_s).toBeGreaterThan(0);
    const logits = await dump.read();
    expect(logits.length).toBe(exp.logits.length);
    expect(maxAbsDiff(logits, exp.logits)).toBeLessThan(1e-3);
  });

  it('rejects bad options with a clear error', async () => {
    await expect(main(['--model', fixtureDir('llama'), '--input-ids', '1,2', '--dtype', 'q5'])).rejects.toThrow(/--dtype q5 is not one of/);
    await expect(main(['--model', fixtureDir('llama')])).rejects.toThrow(/one of --prompt or --input-ids/);
    await expect(main(['--model', fixtureDir('llama'), '--prompt', 'hi'])).rejects.toThrow(/has no tokenizer: pass --input-ids/);
  });
});
