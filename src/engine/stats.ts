/** Timings and token counts of one generation (its own module: engine/types.ts and engine/openaiTypes.ts both use it). */
export interface GenerationStats {
  readonly promptTokens: number;
  /** Prompt tokens whose keys and values were reused from the previous generation (not recomputed). */
  readonly cachedPromptTokens: number;
  /** Prompt tokens run through the model (promptTokens - cachedPromptTokens). */
  readonly prefillTokens: number;
  readonly generatedTokens: number;
  readonly timeToFirstTokenMs: number;
  readonly prefillTokensPerSecond: number;
  readonly decodeTokensPerSecond: number;
  readonly totalMs: number;
}
