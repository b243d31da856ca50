import type { Family } from './family.js';

/** Mistral: Llama with a sliding window on every layer when `sliding_window` is set. */
export const mistral: Family = {
  modelTypes: ['mistral'],
  gguf: { arch: 'llama', reads: 'none', permutedQk: true, slidingWindowAlways: true },
  configure: (c, base) =>
    Array.isArray(c.raw.layer_types) || base.slidingWindow === undefined
      ? base
      : { ...base, layerTypes: base.layerTypes.map(() => 'sliding') },
};
