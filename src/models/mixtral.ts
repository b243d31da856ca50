import type { Family } from './family.js';
import { mistral } from './mistral.js';
import { moeConfig } from './moeConfig.js';

/** Mixtral: Mistral attention; block_sparse_moe with experts w1 (gate), w3 (up), w2 (down); renormalised top-k. */
export const mixtral: Family = {
  modelTypes: ['mixtral'],
  gguf: { arch: 'llama', reads: 'experts', permutedQk: true, expertCountKey: 'num_local_experts', moeBlock: 'block_sparse_moe' },
  configure(c, base) {
    const names = { block: 'block_sparse_moe', router: 'gate', gate: 'w1', up: 'w3', down: 'w2' };
    return { ...mistral.configure(c, base), moe: moeConfig(c, base, { names, normTopK: true }) };
  },
};
