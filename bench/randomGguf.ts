// A GGUF of random weights in a real model's shape, with a synthetic byte-level BPE vocabulary, so that weblm
// and llama.cpp load the same file (bench/vs-llamacpp.sh). The CLI is bench/makeRandomGguf.ts.
import type { RawConfig } from '../src/models/config.js';
import { writeModelGGUF, type ConvertType } from '../src/node/convert.js';
import { randomWeightSource } from './randomWeights.js';
import { benchShapes } from './shapes.js';
import { syntheticTokenizer } from './syntheticTokenizer.js';

/** Special tokens of each family's real tokenizer, at their real ids. */
function specialsOf(config: Record<string, unknown>): { specials: Map<number, string>; bos?: string; eos?: string } {
  const bos = config.bos_token_id as number | undefined;
  const eos = config.eos_token_id as number | undefined;
  const specials = new Map<number, string>();
  if (bos !== undefined) specials.set(bos, bos === eos ? '<|endoftext|>' : '<|bos|>');
  if (eos !== undefined && eos !== bos) specials.set(eos, '<|eos|>');
  return { specials, bos: bos !== undefined ? specials.get(bos) : undefined, eos: eos !== undefined ? specials.get(eos) : undefined };
}

/**
 * Writes a random-weight GGUF of a bench shape; `name@N` keeps the first N layers of the shape (a load
 * profile of a large model's tensor sizes in less time).
 */
export async function writeRandomGGUF(shape: string, type: ConvertType, out: string, onTensor?: (name: string, done: number, total: number) => void) {
  const [name, layers] = shape.split('@') as [string, string | undefined];
  const base = benchShapes[name];
  if (!base) throw new Error(`unknown shape ${name} (${Object.keys(benchShapes).join(', ')})`);
  if (layers !== undefined && !(Number.isInteger(Number(layers)) && Number(layers) >= 1)) throw new Error(`${shape}: @${layers} is not a layer count`);
  const config = layers === undefined ? base : { ...base, num_hidden_layers: Math.min(Number(layers), base.num_hidden_layers as number) };
  if (type !== 'q4_0' && type !== 'q8_0' && type !== 'f16' && type !== 'f32') throw new Error(`--type ${type}`);
  const { specials, bos, eos } = specialsOf(config);
  const vocab = config.vocab_size as number;
  const normal = Math.min(vocab, ...specials.keys());
  const pre = config.model_type === 'llama' || config.model_type === 'deepseek_v3' ? 'llama-bpe' : 'qwen2';
  const { tokenizerJson, tokenizerConfig } = syntheticTokenizer(normal, specials, pre, bos, eos);
  const weights = randomWeightSource(config, type);
  return writeModelGGUF({ raw: config as RawConfig, weights, tokenizerJson, tokenizerConfig, name: `${shape} (random weights)` }, out, type, onTensor);
}
