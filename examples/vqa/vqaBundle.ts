// The model that ships with the VQA page (served from the build under `vqa-model/`, cached by the service
// worker, so it answers with no network). Build-time code (vitePlugin.ts) and page code share this file.
//
// VQA_MODEL_DIRS: the first folder that exists wins. `models/tiny-fashion-vlm/` (a tiny llava trained here
// on Fashion-MNIST); where it is missing, the llava test fixture with a byte-level tokenizer made here,
// labelled as random weights. WEBLM_VQA_MODEL=<dir> picks one (the e2e test pins the fixture).
import type { BundledModelSource, BundleManifest } from '../chat/bundledModel.js';

export interface VqaModelSource extends BundledModelSource {
  /** Questions it was trained on, offered as one-click questions. */
  readonly questions?: readonly string[];
}

export const VQA_MODEL_DIRS: readonly VqaModelSource[] = [
  {
    dir: 'models/tiny-fashion-vlm',
    kind: 'trained',
    name: 'tiny-fashion-vlm',
    description:
      'A tiny llava (0.78M parameters) trained for this demo on Fashion-MNIST: it names the garment in a 28 x 28 grayscale picture, one of ten kinds (T-shirt, trousers, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot; right for 92% of held-out test pictures), and nothing else. A photo gets one of those ten names whatever it shows.',
    questions: ['What is in this picture?', 'Is this a shoe?', 'Is it worn on the feet?', 'Can you wear it?', 'Is this a bag?'],
  },
  {
    dir: 'test/fixtures/llava',
    kind: 'test',
    name: 'llava test model',
    description:
      'A tiny test model of the llava architecture (a CLIP vision tower, a projector, a llama decoder) with random weights and a byte-level tokenizer: its answers are gibberish, but every part of the page works with it.',
  },
];

/** What `vqa-model/bundle.json` says: the chat page's manifest, plus sample pictures shipped beside it. */
export interface VqaManifest extends BundleManifest {
  /** Pictures under `vqa-model/` to try the model on, with what they show where the folder says (labels.json). */
  readonly samples: readonly { readonly path: string; readonly label?: string }[];
  readonly questions?: readonly string[];
}

/** Sample pictures of a model folder: its top-level images, or one per label of `testset/labels.json`. */
export const SAMPLE_IMAGES = /^[\w.-]+\.(png|jpe?g)$/i;
