import { matmulRef } from './matmul.js';
import { rmsNormRef } from './norm.js';

/** moeRouterNormed on the CPU: x = rmsNorm(h) [H] and logits = router [E, H] · x (+ bias). */
export function moeRouterNormedRef(
  h: Float32Array,
  normWeight: Float32Array,
  eps: number,
  weightOffset: number,
  router: Float32Array,
  E: number,
  bias?: Float32Array,
): { x: Float32Array; logits: Float32Array } {
  const x = rmsNormRef(h, normWeight, eps, weightOffset);
  return { x, logits: matmulRef(x, router, 1, E, h.length, bias) };
}
