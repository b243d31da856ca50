import { InvalidModelError } from '../errors.js';
import type { TensorInfo, WeightSource } from '../weights/source.js';

/** Where a checkpoint keeps Qwen2-VL's tower: `visual.` (the Hub's checkpoints, transformers 5's save) or `model.visual.`. */
export function qwen2vlVisionPrefix(src: WeightSource): string {
  for (const p of ['visual.', 'model.visual.']) if (src.tensors.has(`${p}patch_embed.proj.weight`)) return p;
  throw new InvalidModelError('the checkpoint has no Qwen2-VL vision tower (visual.patch_embed.proj.weight)');
}

/** The text model's tensors under the names buildModel reads: model.language_model.* → model.*, model.* and lm_head as they are. */
export function qwen2vlTextWeights(src: WeightSource, visionPrefix: string): WeightSource {
  const names = new Map<string, string>();
  for (const n of src.tensors.keys()) {
    if (n.startsWith(visionPrefix)) continue;
    if (n.startsWith('model.language_model.')) names.set(`model.${n.slice('model.language_model.'.length)}`, n);
    else if (n.startsWith('model.') || n === 'lm_head.weight') names.set(n, n);
  }
  const tensors = new Map<string, TensorInfo>();
  for (const [m, n] of names) tensors.set(m, { ...src.tensors.get(n)!, name: m });
  const stored = (m: string) => names.get(m) ?? m;
  return { tensors, read: (m) => src.read(stored(m)), readRange: (m, o, l) => src.readRange(stored(m), o, l) };
}

/**
 * The checkpoint with each vision block's fused `attn.qkv` (weight [3D, D], bias [3D]) also under the names of its
 * thirds (`attn.q.weight`, `attn.k.bias`, ...): row ranges of the stored tensor, read through readRange, so that the
 * tower's q, k and v load (and quantize) as the CLIP layers' separate matrices.
 */
export function splitQkv(src: WeightSource, visionPrefix: string, depth: number, D: number): WeightSource {
  const parts = new Map<string, { info: TensorInfo; from: string; offset: number }>();
  for (let i = 0; i < depth; i++) {
    for (const kind of ['weight', 'bias']) {
      const name = `${visionPrefix}blocks.${i}.attn.qkv.${kind}`;
      const info = src.tensors.get(name);
      if (!info) throw new InvalidModelError(`tensor ${name} is missing from the checkpoint`);
      const rows = info.shape[0]!;
      if (rows !== 3 * D || info.byteLength % 3 !== 0) throw new InvalidModelError(`tensor ${name} has shape [${info.shape}]; the config implies ${3 * D} rows`);
      const third = info.byteLength / 3;
      ['q', 'k', 'v'].forEach((p, j) => {
        const n = `${visionPrefix}blocks.${i}.attn.${p}.${kind}`;
        parts.set(n, { info: { name: n, dtype: info.dtype, shape: [D, ...info.shape.slice(1)], byteLength: third }, from: name, offset: j * third });
      });
    }
  }
  const tensors = new Map<string, TensorInfo>(src.tensors);
  for (const [n, p] of parts) tensors.set(n, p.info);
  return {
    tensors,
    read: (n) => {
      const p = parts.get(n);
      return p ? src.readRange(p.from, p.offset, p.info.byteLength) : src.read(n);
    },
    readRange: (n, o, l) => {
      const p = parts.get(n);
      if (p && (o < 0 || l < 0 || o + l > p.info.byteLength)) return Promise.reject(new InvalidModelError(`bytes [${o}, ${o + l}) are outside tensor ${n}`));
      return p ? src.readRange(p.from, p.offset + o, l) : src.readRange(n, o, l);
    },
  };
}
