import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/node/cliRun.js';
import { expected, fixtureDir } from '../helpers/fixtures.js';

// `weblm run` on an MoE fixture (gpt_oss: sinks, sliding window, fused experts): the greedy ids of
// transformers exactly (f32). The other MoE fixtures are checked in-process (models.moe / models.deepseek).
describe('weblm run (MoE)', () => {
  it('prints the greedy continuation of the gpt_oss fixture', async () => {
    const exp = await expected('gpt_oss');
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((s: string) => void lines.push(s));
    try {
      const code = await main([
        '--model',
        fixtureDir('gpt_oss'),
        '--input-ids',
        exp.inputIds.join(','),
        '--max-new-tokens',
        String(exp.greedyIds.length),
        '--temperature',
        '0',
      ]);
      expect(code).toBe(0);
    } finally {
      log.mockRestore();
    }
    const summary = JSON.parse(lines.at(-1)!);
    expect(summary.model_type).toBe('gpt_oss');
    expect(summary.generated_ids).toEqual(exp.greedyIds);
  });
});
