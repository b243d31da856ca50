import type { SamplingOptions } from '../sample.js';

const f = Math.fround;

function keyOf(v: number): number {
  const u = new Uint32Array(new Float32Array([v]).buffer)[0]!;
  return (u & 0x80000000 ? ~u : u | 0x80000000) >>> 0;
}

/**
 * The sampler's semantics on the CPU (same random → same id as the GPU, up to f32 rounding of exp at a
 * boundary): penalties and temperature in f32 as the shader computes them; greedy = first argmax;
 * top-k keeps keys >= the k-th largest (ties kept); top-p keeps the highest values down to the first
 * whose cumulative mass reaches topP of the top-k set (ties kept); min-p keeps exp(z - zmax) >= minP;
 * then inverse CDF over the kept ids in increasing order. A `mask` (bit i % 32 of word i / 32) sets the
 * tokens it leaves out to -inf, which is never kept.
 */
export function sampleRef(logits: Float32Array, o: SamplingOptions & { random: number; counts?: Uint32Array; mask?: Uint32Array }): number {
  const V = logits.length;
  const greedy = o.temperature === 0;
  const invT = greedy ? 1 : f(1 / o.temperature);
  const rep = f(o.repetitionPenalty ?? 1);
  const freq = f(o.frequencyPenalty ?? 0);
  const pres = f(o.presencePenalty ?? 0);
  const z = new Float32Array(V);
  let zmax = -Infinity;
  let arg = 0;
  for (let i = 0; i < V; i++) {
    let v = logits[i]!;
    const c = o.counts?.[i] ?? 0;
    if (c > 0) {
      v = v > 0 ? f(v / rep) : f(v * rep);
      v = f(v - f(f(freq * c) + pres));
    }
    v = f(v * invT);
    if (o.mask && ((o.mask[i >>> 5]! >>> (i & 31)) & 1) === 0) v = -Infinity;
    z[i] = v;
    if (v > zmax) {
      zmax = v;
      arg = i;
    }
  }
  if (greedy) return arg;
  const keys = Array.from(z, keyOf);
  const mass = Array.from(z, (v) => Math.exp(v - zmax));
  let tau = 0;
  const topK = o.topK !== undefined && o.topK > 0 && o.topK < V ? Math.floor(o.topK) : 0;
  if (topK) tau = [...keys].sort((a, b) => b - a)[topK - 1]!;
  if (o.topP !== undefined && o.topP < 1) {
    const idx = keys
      .map((_, i) => i)
      .filter((i) => keys[i]! >= tau)
      .sort((a, b) => keys[b]! - keys[a]!);
    const total = idx.reduce((s, i) => s + mass[i]!, 0);
    const target = o.topP * total;
    let cum = 0;
    let tauP = keys[idx[idx.length - 1]!]!;
    for (let j = 0; j < idx.length;) {
      const k = keys[idx[j]!]!;
      while (j < idx.length && keys[idx[j]!] === k) cum += mass[idx[j++]!]!;
      if (cum >= target) {
        tauP = k;
        break;
      }
    }
    tau = Math.max(tau, tauP);
  }
  const minP = f(o.minP ?? 0);
  const kept = (i: number) => z[i]! > -Infinity && keys[i]! >= tau && mass[i]! >= minP;
  let total = 0;
  for (let i = 0; i < V; i++) if (kept(i)) total += mass[i]!;
  const target = o.random * total;
  let acc = 0;
  let id = arg;
  for (let i = 0; i < V; i++) {
    if (!kept(i)) continue;
    id = i;
    acc += mass[i]!;
    if (acc > target) break;
  }
  return id;
}
