import type { ModelConfig } from './config.js';

/** Prefill chunk of dense models: GEMMs of fewer rows leave the GPU half idle. */
const DENSE_CHUNK = 512;
/** Tokens each expert should see per chunk on average, so that the grouped expert GEMMs are not mostly edge tiles. */
const TOKENS_PER_EXPERT = 128;
const MAX_CHUNK = 2048;

/**
 * The longest chunk a prefill forwards at once unless the caller sets one: 512 tokens, and for MoE models as many
 * more (in steps of 512, up to 2048) as give each expert about 128 tokens (chunk * topK / experts): Qwen3-30B-A3B's
 * 128 experts top-8 take 2048 (10% faster to the first token of a 4,096-token prompt than 512 on the H200,
 * bench/README.md). The activation buffers grow with it (src/models/fit.ts counts them).
 */
export function defaultMaxChunk(c: ModelConfig): number {
  if (!c.moe) return DENSE_CHUNK;
  const wanted = (TOKENS_PER_EXPERT * c.moe.numExperts) / c.moe.route.topK;
  return Math.min(MAX_CHUNK, Math.max(DENSE_CHUNK, Math.ceil(wanted / DENSE_CHUNK) * DENSE_CHUNK));
}
