import { describe, expect, it } from 'vitest';
import { main } from '../../src/node/cliRun.js';
import { cliSummary } from '../helpers/cli.js';
import { expected, fixtureDir } from '../helpers/fixtures.js';

// `weblm run` on an MoE fixture (gpt_oss: sinks, sliding window, fused experts): the greedy ids of
// transformers exactly (f32). The other MoE fixtures are checked in-process (models.moe / models.deepseek).
describe('weblm run (MoE)', () => {
  it('prints the greedy continuation of the gpt_oss fixture', async () => {
    const exp = await expected('gpt_oss');
    const summary = await cliSummary(main, [
      '--model',
      fixtureDir('gpt_oss'),
      '--input-ids',
      exp.inputIds.join(','),
      '--max-new-tokens',
      String(exp.greedyIds.length),
      '--temperature',
      '0',
    ]);
    expect(summary.model_type).toBe('gpt_oss');
    expect(summary.generated_ids).toEqual(exp.greedyIds);
  });
});
