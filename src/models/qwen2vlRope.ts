import { InvalidArgumentError } from '../errors.js';

/** An image's patch grid in patches (image_grid_thw). */
export interface PatchGrid {
  readonly t: number;
  readonly h: number;
  readonly w: number;
}

/** Image tokens an image of this grid fills: its patches over merge x merge. */
export const mergedTokens = (g: PatchGrid, merge: number) => g.t * (g.h / merge) * (g.w / merge);

/**
 * Qwen2-VL's get_rope_index for a prompt with images: a text token at p has position (p, p, p); the tokens of an
 * image (a run of `mergedTokens` image tokens) get (s + t, s + h, s + w) over its merged grid, s the position after
 * the text before it; the text after it goes on at the image's largest position + 1. Returns the rows t, h, w
 * ([3 * S], row r at r * S) and rope_delta (largest position + 1 - S): a token at cache index i >= S has
 * position i + delta in all three rows.
 */
export function mropePositions(ids: readonly number[], grids: readonly PatchGrid[], imageTokenId: number, merge: number): { rows: Uint32Array; delta: number } {
  const S = ids.length;
  const rows = new Uint32Array(3 * S);
  let pos = 0;
  let img = 0;
  for (let i = 0; i < S; ) {
    if (ids[i] !== imageTokenId) {
      rows[i] = rows[S + i] = rows[2 * S + i] = pos++;
      i++;
      continue;
    }
    const g = grids[img++];
    if (!g) throw new InvalidArgumentError(`the prompt has more images (runs of image token ${imageTokenId}) than the ${grids.length} given`);
    const gh = g.h / merge;
    const gw = g.w / merge;
    const n = g.t * gh * gw;
    for (let k = 0; k < n; k++) {
      if (ids[i + k] !== imageTokenId) {
        throw new InvalidArgumentError(`image ${img} takes ${n} image tokens (a ${g.t} x ${g.h} x ${g.w} patch grid), the prompt has ${k} at ${i}`);
      }
      const t = Math.floor(k / (gh * gw));
      rows[i + k] = pos + t;
      rows[S + i + k] = pos + Math.floor((k % (gh * gw)) / gw);
      rows[2 * S + i + k] = pos + (k % gw);
    }
    i += n;
    pos += Math.max(g.t, gh, gw);
  }
  if (img !== grids.length) throw new InvalidArgumentError(`the prompt has ${img} images (runs of image token ${imageTokenId}) for ${grids.length} given`);
  return { rows, delta: pos - S };
}
