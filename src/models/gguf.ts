import { InvalidModelError, ModelNotFoundError, UnsupportedModelError } from '../errors.js';
import type { ByteSource, ModelFiles } from '../weights/files.js';
import { layoutHparams } from '../weights/ggufConfig.js';
import type { GGUFTypedValue, GGUFValue } from '../weights/ggufFormat.js';
import type { GGUFLayout } from '../weights/ggufLayout.js';
import { readGGUF } from '../weights/ggufReader.js';
import { GGUFSource } from '../weights/ggufSource.js';
import type { RawConfig } from './config.js';
import { registeredFamilies } from './registry.js';

// GGUF files through the model families: each family's GGUF layout (Family.gguf) picks the reading and the
// writing of its architecture; src/weights/gguf*.ts do what every architecture shares.

const withGguf = () => registeredFamilies().filter((f) => f.gguf);

/** The GGUF layout of a model_type (the converter's direction). */
export function ggufLayoutOf(modelType: string): GGUFLayout {
  const f = withGguf().find((f) => f.modelTypes.includes(modelType));
  if (!f) {
    const types = withGguf().flatMap((f) => f.modelTypes);
    throw new UnsupportedModelError(`model_type ${modelType} cannot be converted to GGUF (supported: ${types.join(', ')})`);
  }
  return f.gguf!;
}

/** GGUF metadata of a HF config.json (the converter): general.architecture and the `{arch}.*` hyperparameters. */
export function ggufHparams(raw: RawConfig): Map<string, GGUFTypedValue> {
  return layoutHparams(raw, ggufLayoutOf(String(raw.model_type)));
}

/** The family a GGUF file reads back as (its model_type and layout), from general.architecture and the expert count. */
export function ggufFamilyOf(md: ReadonlyMap<string, GGUFValue>, where = 'model.gguf'): { modelType: string; layout: GGUFLayout } {
  const arch = md.get('general.architecture');
  if (typeof arch !== 'string') throw new InvalidModelError(`${where}: no general.architecture in the GGUF metadata`);
  const experts = Number(md.get(`${arch}.expert_count`) ?? 0) > 0;
  const readers = withGguf().filter((f) => f.gguf!.reads !== 'none');
  const reads = (l: GGUFLayout) => l.arch === arch && (l.reads === 'dense' ? !experts : l.reads === 'experts' ? experts : true);
  const f = readers.find((f) => reads(f.gguf!));
  if (!f) {
    const archs = [...new Set(readers.map((f) => f.gguf!.arch))];
    throw new UnsupportedModelError(`${where}: GGUF architecture ${arch} is not supported (supported: ${archs.join(', ')})`);
  }
  return { modelType: f.modelTypes[0]!, layout: f.gguf! };
}

/** Opens a GGUF ByteSource: header read in chunks, tensors read on demand, under Hugging Face names. */
export async function openGGUF(file: ByteSource, location = 'model.gguf'): Promise<GGUFSource> {
  const gguf = await readGGUF(file, location);
  const { modelType, layout } = ggufFamilyOf(gguf.metadata, location);
  return new GGUFSource(file, gguf, location, modelType, layout);
}

/** The GGUF file `path` of a model's files. */
export async function openGGUFFile(files: ModelFiles, path: string): Promise<GGUFSource> {
  if (!(await files.has(path))) throw new ModelNotFoundError(`${files.location}: no ${path}`);
  return openGGUF(await files.open(path), `${files.location}/${path}`);
}
