import { byteTokenizerJson } from './engineTokenizer.js';

/** The llava fixture's image token (config.json image_token_index). */
export const IMAGE_TOKEN_ID = 511;

/** The byte-level tokenizer of the engine tests plus `<image>` at id 511, for the llava fixture (vocab 512). */
export function llavaTokenizerJson(): object {
  const j = byteTokenizerJson() as { added_tokens: object[]; model: { vocab: Record<string, number> } };
  const image = { id: IMAGE_TOKEN_ID, content: '<image>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  return { ...j, added_tokens: [...j.added_tokens, image], model: { ...j.model, vocab: { ...j.model.vocab, '<image>': IMAGE_TOKEN_ID } } };
}

/** llava-hf/llava-1.5-7b-hf's chat template (images first, then text, per message). */
export const LLAVA_CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

export function llavaTokenizerConfig(): { eos_token: string } {
  return { eos_token: '<|im_end|>' };
}
