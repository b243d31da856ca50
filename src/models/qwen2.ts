import { qwenLayerTypes, type Family } from './family.js';

/** Qwen2 (and DeepSeek-R1-Distill-Qwen): Llama with q/k/v biases and, often, tied embeddings. */
export const qwen2: Family = {
  modelTypes: ['qwen2'],
  gguf: { arch: 'qwen2' },
  configure: (c, base) => ({ ...base, qkvBias: true, oBias: false, layerTypes: qwenLayerTypes(c, base) }),
};
