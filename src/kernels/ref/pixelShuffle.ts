/**
 * Idefics3's pixel shuffle on `tiles` grids of h x w vectors of D: x [tiles * h * w, D] →
 * [tiles * (h / s) * (w / s), s * s * D], out[t, k * (w / s) + j, (di * s + dj) * D + e] = x[t, (k * s + di) * w + j * s + dj, e].
 */
export function pixelShuffleRef(x: Float32Array, tiles: number, h: number, w: number, D: number, s: number): Float32Array {
  const ho = h / s;
  const wo = w / s;
  const cols = s * s * D;
  const out = new Float32Array(tiles * ho * wo * cols);
  for (let t = 0; t < tiles; t++) {
    for (let k = 0; k < ho; k++) {
      for (let j = 0; j < wo; j++) {
        const row = (t * ho + k) * wo + j;
        for (let di = 0; di < s; di++) {
          for (let dj = 0; dj < s; dj++) {
            const src = (t * h + k * s + di) * w + j * s + dj;
            out.set(x.subarray(src * D, (src + 1) * D), row * cols + (di * s + dj) * D);
          }
        }
      }
    }
  }
  return out;
}
