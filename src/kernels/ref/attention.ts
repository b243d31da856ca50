export interface AttentionRefOptions {
  startPos: number;
  scale: number;
  window?: number;
  sinks?: Float32Array;
  softcap?: number;
  vFromK?: boolean;
  /** false: every query sees keys 0 .. startPos + T - 1. */
  causal?: boolean;
}

/**
 * Reference causal attention over a cache (slot of position j = j % capacity), f64 accumulation.
 * q [T, nH, hd], k [capacity, nKv, hd], v [capacity, nKv, hdV] → [T, nH, hdV].
 */
export function attentionRef(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  T: number,
  nH: number,
  nKv: number,
  hd: number,
  hdV: number,
  capacity: number,
  o: AttentionRefOptions,
): Float32Array {
  const out = new Float32Array(T * nH * hdV);
  const group = nH / nKv;
  for (let t = 0; t < T; t++) {
    const pos = o.causal === false ? o.startPos + T - 1 : o.startPos + t;
    const lo = o.window ? Math.max(0, pos + 1 - o.window) : 0;
    for (let h = 0; h < nH; h++) {
      const kvh = Math.floor(h / group);
      const scores: number[] = [];
      for (let j = lo; j <= pos; j++) {
        const base = ((j % capacity) * nKv + kvh) * hd;
        let s = 0;
        for (let d = 0; d < hd; d++) s += q[(t * nH + h) * hd + d]! * k[base + d]!;
        s *= o.scale;
        if (o.softcap) s = o.softcap * Math.tanh(s / o.softcap);
        scores.push(s);
      }
      const sink = o.sinks ? o.sinks[h]! : -Infinity;
      const m = Math.max(sink, ...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const denom = e.reduce((a, b) => a + b, 0) + (o.sinks ? Math.exp(sink - m) : 0);
      for (let d = 0; d < hdV; d++) {
        let acc = 0;
        for (let j = lo; j <= pos; j++) {
          const slot = j % capacity;
          const val = o.vFromK ? k[(slot * nKv + kvh) * hd + d]! : v[(slot * nKv + kvh) * hdV + d]!;
          acc += e[j - lo]! * val;
        }
        out[(t * nH + h) * hdV + d] = acc / denom;
      }
    }
  }
  return out;
}
