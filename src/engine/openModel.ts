import { InvalidArgumentError } from '../errors.js';
import type { ModelConfig, RawConfig } from '../models/config.js';
import { ggufWeightsAndConfig, loadWeightsAndConfig } from '../models/load.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { ModelFiles } from '../weights/files.js';
import type { WeightSource } from '../weights/source.js';

/** A model opened but not yet on the GPU: its config, weights under HF names, and tokenizer. */
export interface OpenedModel {
  /** Where it came from, for messages and EngineInfo.model. */
  readonly location: string;
  readonly config: ModelConfig;
  readonly weights: WeightSource;
  readonly tokenizer: TextTokenizer | undefined;
  /** preprocessor_config.json (vision models), when the files have one. */
  readonly preprocessor?: RawConfig;
}

/**
 * The .gguf file to load: `named` when the source names one, else the only .gguf of files that can be
 * listed and hold no config.json; undefined for a Hugging Face layout.
 */
export async function ggufToLoad(files: ModelFiles, named?: string): Promise<string | undefined> {
  if (named !== undefined) return named.replace(/^\.?\//, '');
  if (!files.list || (await files.has('config.json'))) return undefined;
  const ggufs = (await files.list()).filter((p) => /\.gguf$/i.test(p));
  if (ggufs.length > 1) {
    throw new InvalidArgumentError(`${files.location} holds ${ggufs.length} .gguf files (${ggufs.join(', ')}): name one ({ files, gguf } or the file's path)`);
  }
  return ggufs[0];
}

/**
 * Opens "a model" among `files`: a GGUF file (config, weights and tokenizer from its metadata) or a
 * Hugging Face layout (config.json, safetensors, tokenizer.json when present).
 */
export async function openModel(files: ModelFiles, named?: string): Promise<OpenedModel> {
  const gguf = await ggufToLoad(files, named);
  if (gguf !== undefined) {
    const { config, weights } = await ggufWeightsAndConfig(files, gguf);
    const hasTokenizer = weights.gguf.metadata.has('tokenizer.ggml.model');
    const tok = hasTokenizer ? weights.tokenizer() : undefined;
    const tokenizer = tok ? new TextTokenizer(tok.tokenizerJson, tok.tokenizerConfig) : undefined;
    return { location: weights.location, config, weights, tokenizer };
  }
  const tokenizer = (await files.has('tokenizer.json')) ? await TextTokenizer.fromFiles(files) : undefined;
  const { config, weights } = await loadWeightsAndConfig(files);
  const preprocessor = (await files.has('preprocessor_config.json')) ? (JSON.parse(await files.text('preprocessor_config.json')) as RawConfig) : undefined;
  return { location: files.location, config, weights, tokenizer, preprocessor };
}
