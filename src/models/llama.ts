import type { Family } from './family.js';

/** Llama 2/3: the baseline decoder (GQA, SwiGLU, RMSNorm, RoPE incl. llama3 scaling). */
export const llama: Family = {
  modelTypes: ['llama'],
  configure: (_c, base) => base,
  gguf: { arch: 'llama', reads: 'dense', permutedQk: true },
};
