import type { Activation } from '../elementwise.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** erf in double precision: the Maclaurin series up to |x| = 3, a continued fraction of erfc beyond. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  if (ax <= 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x²)/sqrt(π) · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) evaluated backwards
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export function activationRef(x: number, act: Activation): number {
  switch (act) {
    case 'silu':
      return x * sigmoid(x);
    case 'gelu_tanh':
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case 'gelu_erf':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'quick_gelu':
      return x * sigmoid(1.702 * x);
    case 'relu':
      return Math.max(x, 0);
  }
}

export function addRef(a: Float32Array, b: Float32Array, bScale = 1): Float32Array {
  return a.map((v, i) => v + bScale * b[i]!);
}

export function scaleRef(x: Float32Array, s: number): Float32Array {
  return x.map((v) => s * v);
}

export function activationArrayRef(x: Float32Array, act: Activation): Float32Array {
  return x.map((v) => activationRef(v, act));
}

export function softcapRef(x: Float32Array, cap: number): Float32Array {
  return x.map((v) => cap * Math.tanh(v / cap));
}

/** out[T, I] = act(gate) * up from gateUp[T, 2I] (gate columns [0, I), up [I, 2I)). */
export function gluRef(gateUp: Float32Array, T: number, I: number, act: Activation): Float32Array {
  const out = new Float32Array(T * I);
  for (let t = 0; t < T; t++) for (let j = 0; j < I; j++) out[t * I + j] = activationRef(gateUp[t * 2 * I + j]!, act) * gateUp[t * 2 * I + I + j]!;
  return out;
}
