import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors.js';
import { Sampler } from '../engine/sampler.js';
import { openModelSource } from '../engine/modelSource.js';
import { openModel } from '../engine/openModel.js';
import {
  decodeImages,
  expandIdefics3Tokens,
  expandImageTokens,
  idefics3Images,
  idefics3Layouts,
  idefics3PreprocessFor,
  expandQwen2VLTokens,
  qwen2vlGrids,
  qwen2vlImages,
  qwen2vlPreprocessFor,
  preprocessConfigFor,
  splitContentParts,
  toPromptImages,
} from '../engine/promptImages.js';
import { buildAnyModel } from '../models/build.js';
import { Idefics3Model } from '../models/idefics3.js';
import { isIdefics3Config } from '../models/idefics3Config.js';
import { Qwen2VLModel } from '../models/qwen2vl.js';
import { isQwen2VLConfig } from '../models/qwen2vlConfig.js';
import { LlavaModel, type PromptImage } from '../models/llava.js';
import { isLlavaConfig } from '../models/llavaConfig.js';
import { dtypeArg, intArg } from './cliArgs.js';
import { createNodeGpu } from './gpu.js';
import { decodeImageNode } from './imageDecode.js';
import { openNodeSource } from './nodeEngine.js';

const USAGE = `usage: weblm run --model <folder|url|file.gguf> [--prompt "text" | --input-ids 1,2,3] [--image FILE ...] [--max-new-tokens N]
                 [--temperature 0] [--dtype auto|f32|f16|q8_0|q4_0] [--max-context N] [--dump-logits FILE]
  --image (repeatable, vision models): with --input-ids the images fill the image tokens in order (one token per
  image, expanded, or the model's tokens per image); with --prompt the images and the prompt are one user message
  rendered with the chat template`;

/**
 * `weblm run`: loads a model, forwards the prompt, decodes with the KV cache, prints the text (when the
 * model has a tokenizer.json) and, as the last line, a JSON summary with the ids and timings.
 */
export async function main(argv: string[]): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      prompt: { type: 'string' },
      'input-ids': { type: 'string' },
      'max-new-tokens': { type: 'string', default: '32' },
      temperature: { type: 'string', default: '0' },
      seed: { type: 'string' },
      dtype: { type: 'string', default: 'auto' },
      'max-context': { type: 'string' },
      'dump-logits': { type: 'string' },
      image: { type: 'string', multiple: true },
      help: { type: 'boolean' },
    },
  });
  if (a.help) {
    console.log(USAGE);
    return 0;
  }
  if (!a.model) throw new InvalidArgumentError(`--model is required\n${USAGE}`);
  if ((a.prompt === undefined) === (a['input-ids'] === undefined)) throw new InvalidArgumentError(`give one of --prompt or --input-ids\n${USAGE}`);
  const dtype = dtypeArg(a.dtype);
  const maxNew = intArg(a['max-new-tokens']!, '--max-new-tokens', 0);
  const temperature = Number(a.temperature);
  if (!(temperature >= 0)) throw new InvalidArgumentError(`--temperature ${a.temperature} must be a number >= 0`);

  // The model as engine.load opens it: a Hugging Face folder or URL, or a .gguf path or URL.
  const { files, gguf } = await openModelSource(a.model, openNodeSource);
  try {
    const { location, config, weights, tokenizer, preprocessor } = await openModel(files, gguf);
    const imagePaths = a.image ?? [];
    const vision = isLlavaConfig(config) ? config.vision : undefined;
    const idefics3 = isIdefics3Config(config) ? config.idefics3 : undefined;
    const qwen2vl = isQwen2VLConfig(config) ? config.qwen2vl : undefined;
    if (imagePaths.length && !vision && !idefics3 && !qwen2vl)
      throw new InvalidArgumentError(`--image: ${location} (${config.modelType}) has no vision encoder`);
    const images: PromptImage[] = vision
      ? await toPromptImages(await Promise.all(imagePaths.map((p) => readFile(p))), preprocessConfigFor(preprocessor, vision, location), decodeImageNode)
      : [];
    const idefics3Pre = idefics3 && idefics3PreprocessFor(preprocessor, idefics3, location);
    const qwen2vlPre = qwen2vl && qwen2vlPreprocessFor(preprocessor, qwen2vl, location);
    const rgba = idefics3Pre || qwen2vlPre ? await decodeImages(await Promise.all(imagePaths.map((p) => readFile(p))), decodeImageNode) : [];
    const imageCount = images.length + rgba.length;
    let inputIds: number[];
    if (a['input-ids'] !== undefined) {
      inputIds = a['input-ids'].split(',').map((s) => intArg(s.trim(), '--input-ids', 0));
    } else {
      if (!tokenizer) throw new InvalidArgumentError(`${location} has no tokenizer: pass --input-ids instead of --prompt`);
      if (imageCount) {
        if (!tokenizer.chatTemplate) throw new InvalidArgumentError(`${location} has no chat template to place the images: pass --input-ids`);
        const content = [...imagePaths.map(() => ({ type: 'image' as const, image: new Uint8Array(0) })), { type: 'text' as const, text: a.prompt! }];
        const { messages } = splitContentParts([{ role: 'user', content }], true, location);
        inputIds = tokenizer.encode(tokenizer.chatTemplate.render(messages, { addGenerationPrompt: true }));
      } else {
        inputIds = tokenizer.encodePrompt(a.prompt!, config.bosTokenId);
      }
    }
    if (vision) inputIds = expandImageTokens(inputIds, vision.imageTokenId, vision.tokensPerImage, images.length);
    if (idefics3 && idefics3Pre)
      inputIds = expandIdefics3Tokens(inputIds, idefics3Layouts(rgba, idefics3Pre), idefics3, tokenizer && ((t) => tokenizer.encode(t)));
    if (qwen2vl && qwen2vlPre) inputIds = expandQwen2VLTokens(inputIds, qwen2vlGrids(rgba, qwen2vlPre), qwen2vl);
    if (inputIds.length === 0) throw new InvalidArgumentError('the prompt is empty');

    const ctx = await createNodeGpu();
    try {
      const model = await buildAnyModel(ctx, config, weights, {
        dtype,
        maxContext: a['max-context'] ? intArg(a['max-context'], '--max-context', 0) : Math.max(inputIds.length + maxNew, 256),
      });
      const V = model.info.vocabSize;
      for (const id of inputIds) if (id >= V) throw new InvalidArgumentError(`input id ${id} is outside the vocabulary (${V})`);
      if (model instanceof LlavaModel) model.setImages(inputIds, images);
      if (model instanceof Idefics3Model && idefics3Pre) model.setImages(inputIds, await idefics3Images(rgba, idefics3Pre));
      if (model instanceof Qwen2VLModel && qwen2vlPre) model.setImages(inputIds, await qwen2vlImages(rgba, qwen2vlPre));
      const sampler = new Sampler(ctx, V);
      sampler.begin({ temperature, seed: a.seed ? intArg(a.seed, '--seed', 0) : undefined }, inputIds);

      const t0 = performance.now();
      const dump = a['dump-logits'] !== undefined;
      let logits = model.forward(inputIds, 0, { allLogits: dump });
      if (dump) {
        const all = await ctx.read(logits);
        await writeFile(a['dump-logits']!, new Uint8Array(all));
        const at = (inputIds.length - 1) * V * 4;
        // A view of the last row where binding offsets allow it, else that position again.
        logits = at % 256 === 0 ? ctx.view(logits, [1, V], at) : model.forward(inputIds.slice(-1), inputIds.length - 1);
      }
      const generated: number[] = [];
      let next = maxNew > 0 ? await sampler.next(logits) : -1;
      const prefillMs = performance.now() - t0;
      const t1 = performance.now();
      const eos = new Set(model.info.eosTokenIds);
      while (next >= 0) {
        generated.push(next);
        if (eos.has(next) || generated.length >= maxNew) break;
        logits = model.forward([next], inputIds.length + generated.length - 1);
        next = await sampler.next(logits);
      }
      const decodeS = (performance.now() - t1) / 1000;
      if (tokenizer) console.log(tokenizer.decode(generated, { skipSpecialTokens: true }));
      const summary = {
        input_ids: inputIds,
        generated_ids: generated,
        prefill_ms: round(prefillMs),
        decode_tokens_per_s: generated.length > 1 ? round((generated.length - 1) / decodeS) : 0,
        model_type: model.info.modelType,
        weight_dtype: model.info.weightDType,
        adapter: ctx.adapterInfo.description || ctx.adapterInfo.vendor,
      };
      sampler.dispose();
      model.dispose();
      console.log(JSON.stringify(summary));
      return 0;
    } finally {
      ctx.destroy();
    }
  } finally {
    await files.close?.(); // the file handles the load kept open
  }
}

const round = (x: number) => Math.round(x * 100) / 100;
