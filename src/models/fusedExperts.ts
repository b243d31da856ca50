import { InvalidModelError } from '../errors.js';
import { toF32 } from '../weights/loadTensors.js';
import type { TensorInfo, WeightSource } from '../weights/source.js';

/**
 * gpt-oss's fused experts seen as per-expert Linear weights, so the ordinary loader (dtype conversion,
 * quantization) takes them: `<prefix>.gate_up.<e>` f32 [2I, H] (gate rows, then up rows, de-interleaved
 * from gate_up_proj [E, H, 2I]) and `<prefix>.down.<e>` f32 [H, I] (down_proj [E, I, H] transposed).
 * Each fused tensor is read and converted once, on first use.
 */
export function fusedExpertSource(src: WeightSource, prefix: string, names: { gateUp: string; down: string }, E: number, H: number, I: number): WeightSource {
  const gateUpName = `${prefix}.${names.gateUp}`;
  const downName = `${prefix}.${names.down}`;
  const full = new Map<string, Promise<Float32Array>>();
  const read = (name: string, shape: number[]) => {
    let p = full.get(name);
    if (!p) {
      const info = src.tensors.get(name);
      if (!info) throw new InvalidModelError(`tensor ${name} is missing from the checkpoint`);
      if (info.shape.join(',') !== shape.join(',')) throw new InvalidModelError(`tensor ${name} has shape [${info.shape}] but the config implies [${shape}]`);
      p = src.read(name).then((b) => toF32(b, info.dtype, shape.reduce((a, x) => a * x, 1)));
      full.set(name, p);
    }
    return p;
  };
  const tensors = new Map<string, TensorInfo>();
  for (let e = 0; e < E; e++) {
    const gu = `${prefix}.gate_up.${e}`;
    const d = `${prefix}.down.${e}`;
    tensors.set(gu, { name: gu, dtype: 'f32', shape: [2 * I, H], byteLength: 2 * I * H * 4 });
    tensors.set(d, { name: d, dtype: 'f32', shape: [H, I], byteLength: H * I * 4 });
  }
  return {
    tensors,
    async read(name: string): Promise<Uint8Array> {
      const e = Number(name.slice(name.lastIndexOf('.') + 1));
      const out = new Float32Array(2 * I * H);
      if (name.startsWith(`${prefix}.gate_up.`)) {
        const w = (await read(gateUpName, [E, H, 2 * I])).subarray(e * H * 2 * I, (e + 1) * H * 2 * I);
        for (let h = 0; h < H; h++) {
          for (let j = 0; j < I; j++) {
            out[j * H + h] = w[h * 2 * I + 2 * j]!;
            out[(I + j) * H + h] = w[h * 2 * I + 2 * j + 1]!;
          }
        }
        return new Uint8Array(out.buffer);
      }
      if (!name.startsWith(`${prefix}.down.`)) throw new InvalidModelError(`tensor ${name} is not a fused expert`);
      const w = (await read(downName, [E, I, H])).subarray(e * I * H, (e + 1) * I * H);
      const t = out.subarray(0, H * I);
      for (let i = 0; i < I; i++) for (let h = 0; h < H; h++) t[h * I + i] = w[i * H + h]!;
      return new Uint8Array(out.buffer, 0, H * I * 4);
    },
  };
}

/** gate_up_proj_bias [E, 2I] (interleaved) → [E, 2I] with the gate half first, as the expert kernels read it. */
export function deinterleaveBias(b: Float32Array, E: number, I: number): Float32Array {
  const out = new Float32Array(E * 2 * I);
  for (let e = 0; e < E; e++) {
    for (let j = 0; j < I; j++) {
      out[e * 2 * I + j] = b[e * 2 * I + 2 * j]!;
      out[e * 2 * I + I + j] = b[e * 2 * I + 2 * j + 1]!;
    }
  }
  return out;
}
