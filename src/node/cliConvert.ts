import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors.js';
import { CONVERT_TYPES, convertToGGUF, type ConvertType } from './convert.js';

const USAGE = `usage: weblm convert --model <hf-folder> --out <model.gguf> [--type ${CONVERT_TYPES.join('|')}]`;

/** `weblm convert`: a Hugging Face safetensors folder → a GGUF file llama.cpp loads. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, out: { type: 'string' }, type: { type: 'string', default: 'f16' }, quiet: { type: 'boolean', default: false } },
  });
  if (!values.model || !values.out) {
    console.error(USAGE);
    return 2;
  }
  const type = values.type as ConvertType;
  if (!CONVERT_TYPES.includes(type)) throw new InvalidArgumentError(`--type ${values.type}: expected one of ${CONVERT_TYPES.join(', ')}`);
  const { tensors, bytes } = await convertToGGUF({
    model: values.model,
    out: values.out,
    type,
    onTensor: values.quiet ? undefined : (name, done, total) => process.stderr.write(`\r[${done}/${total}] ${name}\x1b[K`),
  });
  if (!values.quiet) process.stderr.write('\n');
  console.log(`wrote ${values.out}: ${tensors} tensors, ${bytes} bytes (${type})`);
  return 0;
}
