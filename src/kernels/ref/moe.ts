import type { MoeActivation, MoeRouteOptions } from '../moe.js';

/** Routing as transformers computes it (see shaders/moeRoute.wgsl); ties go to the lower expert id. */
export function moeRouteRef(
  logits: Float32Array,
  T: number,
  E: number,
  o: Omit<MoeRouteOptions, 'correctionBias'> & { correctionBias?: Float32Array },
): { ids: Uint32Array; weights: Float32Array } {
  const k = o.topK;
  const ids = new Uint32Array(T * k);
  const weights = new Float32Array(T * k);
  const nGroup = o.nGroup ?? 1;
  const topkGroup = o.topkGroup ?? nGroup;
  for (let t = 0; t < T; t++) {
    const l = Array.from(logits.subarray(t * E, (t + 1) * E));
    let score: number[];
    if (o.softmaxAfterTopK) score = l;
    else if (o.scoring === 'sigmoid') score = l.map((v) => 1 / (1 + Math.exp(-v)));
    else {
      const m = Math.max(...l);
      const ex = l.map((v) => Math.exp(v - m));
      const s = ex.reduce((a, b) => a + b, 0);
      score = ex.map((v) => v / s);
    }
    const key = score.map((v, e) => v + (o.correctionBias ? o.correctionBias[e]! : 0));
    if (nGroup > 1) {
      const per = E / nGroup;
      const gk = Array.from({ length: nGroup }, (_, g) => {
        const v = key.slice(g * per, (g + 1) * per).sort((a, b) => b - a);
        return v[0]! + v[1]!;
      });
      const keep = topIndices(gk, topkGroup);
      for (let e = 0; e < E; e++) if (!keep.includes(Math.floor(e / per))) key[e] = 0;
    }
    const chosen = topIndices(key, k);
    let w = chosen.map((e) => score[e]!);
    if (o.softmaxAfterTopK) {
      const m = Math.max(...w);
      const ex = w.map((v) => Math.exp(v - m));
      const s = ex.reduce((a, b) => a + b, 0);
      w = ex.map((v) => v / s);
    } else if (o.normTopK) {
      const s = w.reduce((a, b) => a + b, 0) + 1e-20;
      w = w.map((v) => v / s);
    }
    chosen.forEach((e, j) => {
      ids[t * k + j] = e;
      weights[t * k + j] = w[j]! * o.scale;
    });
  }
  return { ids, weights };
}

/** Indices of the n largest values, largest first; equal values: the lower index first. */
function topIndices(v: readonly number[], n: number): number[] {
  return v
    .map((x, i) => [x, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, n)
    .map(([, i]) => i);
}

export interface MoeExpertsRefWeights {
  gateUp: Float32Array; // [E, 2I, H]
  down: Float32Array; // [E, H, I]
  gateUpBias?: Float32Array; // [E, 2I]
  downBias?: Float32Array; // [E, H]
}

/** out[T, H] = Σ_j weights[t, j] · expert_{ids[t, j]}(x[t]), in f64. */
export function moeExpertsRef(
  x: Float32Array,
  T: number,
  H: number,
  I: number,
  ids: Uint32Array,
  weights: Float32Array,
  k: number,
  w: MoeExpertsRefWeights,
  act: MoeActivation,
  clamp?: { limit: number; alpha: number },
): Float32Array {
  const out = new Float32Array(T * H);
  const a = new Float64Array(I);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < k; j++) {
      const e = ids[t * k + j]!;
      const rw = weights[t * k + j]!;
      for (let i = 0; i < I; i++) {
        let g = w.gateUpBias ? w.gateUpBias[e * 2 * I + i]! : 0;
        let u = w.gateUpBias ? w.gateUpBias[e * 2 * I + I + i]! : 0;
        const gRow = (e * 2 * I + i) * H;
        const uRow = (e * 2 * I + I + i) * H;
        for (let h = 0; h < H; h++) {
          g += w.gateUp[gRow + h]! * x[t * H + h]!;
          u += w.gateUp[uRow + h]! * x[t * H + h]!;
        }
        a[i] = activate(g, u, act, clamp);
      }
      for (let h = 0; h < H; h++) {
        let s = w.downBias ? w.downBias[e * H + h]! : 0;
        for (let i = 0; i < I; i++) s += w.down[(e * H + h) * I + i]! * a[i]!;
        out[t * H + h] = out[t * H + h]! + rw * s;
      }
    }
  }
  return out;
}

export function activate(g: number, u: number, act: MoeActivation, clamp?: { limit: number; alpha: number }): number {
  if (clamp) {
    const gc = Math.min(g, clamp.limit);
    const uc = Math.min(Math.max(u, -clamp.limit), clamp.limit);
    return (gc / (1 + Math.exp(-clamp.alpha * gc))) * (uc + 1);
  }
  if (act === 'gelu_tanh') return 0.5 * g * (1 + Math.tanh(0.7978845608028654 * (g + 0.044715 * g ** 3))) * u;
  return (g / (1 + Math.exp(-g))) * u;
}
