import { InvalidModelError } from '../errors.js';
import { byteSizeOf, dtypeLayout, type DType } from '../gpu/tensor.js';
import { loadChunking, toF32 } from '../weights/loadTensors.js';
import { checkRange, type TensorInfo, type WeightSource } from '../weights/source.js';

/**
 * gpt-oss's fused experts seen as per-expert Linear weights, so the ordinary loader (dtype conversion,
 * quantization) takes them: `<prefix>.gate_up.<e>` f32 [2I, H] (gate rows, then up rows, de-interleaved
 * from gate_up_proj [E, H, 2I]) and `<prefix>.down.<e>` f32 [H, I] (down_proj [E, I, H] transposed).
 * One expert's slice of each fused tensor is held as f32 at a time (read in chunks on first use), so
 * range reads of one expert's rows after another's convert each slice once.
 */
export function fusedExpertSource(src: WeightSource, prefix: string, names: { gateUp: string; down: string }, E: number, H: number, I: number): WeightSource {
  const gateUpName = `${prefix}.${names.gateUp}`;
  const downName = `${prefix}.${names.down}`;
  const last = new Map<string, { e: number; values: Promise<Float32Array> }>();
  const expert = (name: string, shape: number[], e: number) => {
    const held = last.get(name);
    if (held?.e === e) return held.values;
    const info = src.tensors.get(name);
    if (!info) throw new InvalidModelError(`tensor ${name} is missing from the checkpoint`);
    if (info.shape.join(',') !== shape.join(',')) throw new InvalidModelError(`tensor ${name} has shape [${info.shape}] but the config implies [${shape}]`);
    const values = readF32Slice(src, name, info.dtype, e * shape[1]! * shape[2]!, shape[1]! * shape[2]!);
    last.set(name, { e, values });
    return values;
  };
  const tensors = new Map<string, TensorInfo>();
  for (let e = 0; e < E; e++) {
    const gu = `${prefix}.gate_up.${e}`;
    const d = `${prefix}.down.${e}`;
    tensors.set(gu, { name: gu, dtype: 'f32', shape: [2 * I, H], byteLength: 2 * I * H * 4 });
    tensors.set(d, { name: d, dtype: 'f32', shape: [H, I], byteLength: H * I * 4 });
  }
  const readRange = async (name: string, byteOffset: number, byteLength: number): Promise<Uint8Array> => {
    const info = tensors.get(name);
    if (!info) throw new InvalidModelError(`tensor ${name} is not a fused expert`);
    checkRange(info, byteOffset, byteLength, prefix);
    const e = Number(name.slice(name.lastIndexOf('.') + 1));
    const cols = info.shape[1]!;
    const r0 = Math.floor(byteOffset / 4 / cols);
    const r1 = Math.max(r0, Math.ceil((byteOffset + byteLength) / 4 / cols));
    const out = new Float32Array((r1 - r0) * cols);
    if (name.startsWith(`${prefix}.gate_up.`)) {
      const w = await expert(gateUpName, [E, H, 2 * I], e);
      for (let r = r0; r < r1; r++) {
        const k = r < I ? 2 * r : 2 * (r - I) + 1; // gate j at column 2j, up j at 2j + 1
        const row = out.subarray((r - r0) * H, (r - r0 + 1) * H);
        for (let h = 0; h < H; h++) row[h] = w[h * 2 * I + k]!;
      }
    } else {
      const w = await expert(downName, [E, I, H], e);
      for (let h = r0; h < r1; h++) {
        const row = out.subarray((h - r0) * I, (h - r0 + 1) * I);
        for (let i = 0; i < I; i++) row[i] = w[i * H + h]!;
      }
    }
    const skip = byteOffset - r0 * cols * 4;
    return new Uint8Array(out.buffer, skip, byteLength);
  };
  return {
    tensors,
    readRange,
    async read(name: string): Promise<Uint8Array> {
      const info = tensors.get(name);
      if (!info) throw new InvalidModelError(`tensor ${name} is not a fused expert`);
      return readRange(name, 0, info.byteLength);
    },
  };
}

/** `count` values from element `first` of a stored tensor as f32, read in chunks of loadChunking.maxBytes. */
async function readF32Slice(src: WeightSource, name: string, dtype: DType, first: number, count: number): Promise<Float32Array> {
  const { blockElems } = dtypeLayout[dtype];
  const step = Math.max(1, Math.floor(loadChunking.maxBytes / byteSizeOf(dtype, blockElems))) * blockElems;
  const out = new Float32Array(count);
  for (let at = 0; at < count; at += step) {
    const m = Math.min(step, count - at);
    out.set(toF32(await src.readRange(name, byteSizeOf(dtype, first + at), byteSizeOf(dtype, m)), dtype, m), at);
  }
  return out;
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
