import { Template } from '@huggingface/jinja';
import type { ContentPart } from './contentParts.js';
import { InvalidArgumentError, InvalidModelError } from '../errors.js';

/** A chat message as OpenAI and the Hugging Face chat templates take it. */
export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  /** A string, or OpenAI content parts (text, image_url, image: src/engine/contentParts.ts). */
  readonly content: string | null | readonly ContentPart[];
  readonly reasoning_content?: string | null;
  readonly name?: string;
  readonly tool_calls?: readonly unknown[];
  readonly tool_call_id?: string;
}

export interface RenderOptions {
  /** End with the opening of an assistant turn (default true). */
  readonly addGenerationPrompt?: boolean;
  readonly tools?: readonly unknown[];
  /** Further template variables (`enable_thinking` for Qwen3, say). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/**
 * A jinja chat template from tokenizer_config.json, rendered as transformers' `apply_chat_template` does
 * (`raise_exception` and `strftime_now` are jinja built-ins).
 */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly specialTokens: Readonly<Record<string, string>>,
  ) {
    try {
      this.template = new Template(source);
    } catch (cause) {
      throw new InvalidModelError(`the chat template could not be parsed: ${(cause as Error).message}`, { cause });
    }
  }

  render(messages: readonly ChatMessage[], opts: RenderOptions = {}): string {
    try {
      return this.template.render({
        ...this.specialTokens,
        ...opts.extra,
        messages,
        tools: opts.tools,
        add_generation_prompt: opts.addGenerationPrompt ?? true,
      });
    } catch (err) {
      // raise_exception() in a template (jinja's built-in) lands here too.
      throw new InvalidArgumentError(`the chat template failed to render these messages: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * The text the template puts after the generation prompt's role header when the model is expected to
   * reason: `<think>\n` for DeepSeek-R1's template, which opens the thinking block itself.
   */
  opensThinking(): boolean {
    const probe = this.render([{ role: 'user', content: 'x' }], { addGenerationPrompt: true });
    return /<think>\s*$/.test(probe);
  }
}
