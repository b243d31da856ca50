// What a decode attention leaves for the GEMV after it to merge (AttentionOptions.mergeLater): its chunks' partial results.

/**
 * The unmerged chunks of a decode attention of one query row (AttentionOptions.mergeLater): for head h and chunk c,
 * the unnormalised sum acc[h, c, 0 .. Dv) of p · v at float (h * nChunks + c) * dv4, and (max, sum) of its scores at
 * float mlOffset + mlStride * (h * nChunks + c) (mlStride 2 from the decode kernel, 4 from the MLA one).
 * out[h] = Σ_c e^(m_c - M) acc_c / Σ_c e^(m_c - M) l_c, M = max_c m_c.
 */
export interface DecodeParts {
  readonly buffer: GPUBuffer;
  readonly nH: number;
  readonly Dv: number;
  readonly nChunks: number;
  readonly dv4: number;
  readonly mlOffset: number;
  readonly mlStride: 2 | 4;
}

/** Chunks a later GEMV merges at most (each of its workgroups reads every chunk of every head). */
export const MERGE_LATER_MAX_CHUNKS = 16;

/**
 * The most chunks a decode attention splits `blocks` blocks of keys into: `most`, or where the chunks can be merged
 * later (`mergeable`) and spans of up to 2 blocks a chunk do, MERGE_LATER_MAX_CHUNKS.
 */
export function mostChunks(mergeable: boolean, blocks: number, most: number): number {
  return mergeable && blocks <= 2 * MERGE_LATER_MAX_CHUNKS ? MERGE_LATER_MAX_CHUNKS : most;
}

/** Whether a decode attention split into nChunks leaves them to the next GEMV to merge (one chunk is written directly). */
export function mergesLater(mergeable: boolean, nChunks: number): boolean {
  return mergeable && nChunks > 1 && nChunks <= MERGE_LATER_MAX_CHUNKS;
}
