/**
 * The cache after appending T rows: row t of `rows` [T, row] goes to slot (startPos + t) % capacity of
 * `cache` [capacity, row]. Returns a new array; `cache` is left as it is.
 */
export function writeKvRef(rows: Float32Array, cache: Float32Array, T: number, row: number, startPos: number): Float32Array {
  const capacity = cache.length / row;
  const out = cache.slice();
  for (let t = 0; t < T; t++) out.set(rows.subarray(t * row, (t + 1) * row), ((startPos + t) % capacity) * row);
  return out;
}
