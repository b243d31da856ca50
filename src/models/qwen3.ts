import { qwenLayerTypes, type Family } from './family.js';

/** Qwen3: per-head RMSNorm of q and k before RoPE; head_dim independent of hidden / heads. */
export const qwen3: Family = {
  modelTypes: ['qwen3'],
  gguf: { arch: 'qwen3' },
  configure: (c, base) => ({ ...base, qkNorm: true, layerTypes: qwenLayerTypes(c, base) }),
};
