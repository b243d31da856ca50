/** out[T, H] = table[ids[t], :] * scale (zeros for ids outside the table). */
export function embeddingRef(ids: ArrayLike<number>, table: Float32Array, V: number, H: number, scale = 1): Float32Array {
  const out = new Float32Array(ids.length * H);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (id < 0 || id >= V) continue;
    for (let h = 0; h < H; h++) out[t * H + h] = table[id * H + h]! * scale;
  }
  return out;
}
