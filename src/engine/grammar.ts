import { InvalidArgumentError } from '../errors.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import { checkJsonSchema, xgrammarSchema } from './grammarSchema.js';
import { loadXgrammar, type XgrammarModule } from './grammarWasm.js';

/** OpenAI's `response_format` (weblm's `responseFormat`). */
export type ResponseFormat =
  | { readonly type: 'text' }
  | { readonly type: 'json_object' }
  | {
      readonly type: 'json_schema';
      readonly json_schema: {
        readonly name: string;
        readonly schema?: Readonly<Record<string, unknown>> | boolean;
        readonly strict?: boolean | null;
        readonly description?: string;
      };
    };

/** What a constrained generation must produce: any JSON object, JSON of a schema, an EBNF grammar, or one tool call. */
export type Constraint =
  | { readonly kind: 'json' }
  | { readonly kind: 'jsonSchema'; readonly schema: unknown }
  | { readonly kind: 'ebnf'; readonly grammar: string }
  | { readonly kind: 'toolCall'; readonly tags: readonly ToolCallTag[] };

/** One way a tool call may be written: `begin`, JSON of `schema` (compact), `end`. */
export interface ToolCallTag {
  readonly begin: string;
  readonly schema: unknown;
  readonly end: string;
}

/** The constraint of `responseFormat` / `grammar` (at most one), checked; undefined for plain text. */
export function constraintOf(o: { readonly responseFormat?: ResponseFormat; readonly grammar?: string }): Constraint | undefined {
  const rf = o.responseFormat;
  if (o.grammar !== undefined) {
    if (typeof o.grammar !== 'string' || o.grammar.trim() === '') throw new InvalidArgumentError('grammar must be a non-empty EBNF string');
    if (rf && rf.type !== 'text') throw new InvalidArgumentError('give grammar or a JSON response_format, not both');
    return { kind: 'ebnf', grammar: o.grammar };
  }
  if (rf === undefined || rf === null) return undefined;
  if (typeof rf !== 'object') throw new InvalidArgumentError('response_format must be an object');
  switch (rf.type) {
    case 'text':
      return undefined;
    case 'json_object':
      return { kind: 'json' };
    case 'json_schema': {
      const js = rf.json_schema;
      if (!js || typeof js !== 'object') throw new InvalidArgumentError('response_format.json_schema must be an object with name and schema');
      if (typeof js.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(js.name)) {
        throw new InvalidArgumentError('response_format.json_schema.name must be 1 to 64 letters, digits, _ or -');
      }
      const schema = js.schema ?? {};
      checkJsonSchema(schema, 'response_format.json_schema.schema');
      return { kind: 'jsonSchema', schema };
    }
    default:
      throw new InvalidArgumentError(
        `response_format.type ${JSON.stringify((rf as { type?: unknown }).type)} is not supported (text, json_object, json_schema)`,
      );
  }
}

type GrammarCompiler = Awaited<ReturnType<XgrammarModule['GrammarCompiler']['createGrammarCompiler']>>;
type Compiled = Awaited<ReturnType<GrammarCompiler['compileBuiltinJSONGrammar']>>;
type Matcher = Awaited<ReturnType<XgrammarModule['GrammarMatcher']['createGrammarMatcher']>>;

interface Compiler {
  readonly xg: XgrammarModule;
  readonly compiler: GrammarCompiler;
}

const compilers = new WeakMap<TextTokenizer, Map<string, Promise<Compiler>>>();

/** One xgrammar compiler per tokenizer, vocabulary size and stop set (the vocabulary is preprocessed once). */
function compilerFor(tok: TextTokenizer, vocabSize: number, stopIds: readonly number[]): Promise<Compiler> {
  let m = compilers.get(tok);
  if (!m) compilers.set(tok, (m = new Map()));
  const key = `${vocabSize}:${stopIds.join(',')}`;
  let c = m.get(key);
  if (!c) {
    c = (async () => {
      const xg = await loadXgrammar();
      // Control tokens (special, not a stop) are no text: an empty string keeps them out of every mask.
      const tokens = tok.tokens(Math.min(vocabSize, tok.vocabSize)).map((t, id) => (tok.specialIds.has(id) && !stopIds.includes(id) ? '' : t));
      const info = await xg.TokenizerInfo.createTokenizerInfo(tokens, tok.vocabType, tok.prependsSpace, vocabSize, [...stopIds]);
      return { xg, compiler: await xg.GrammarCompiler.createGrammarCompiler(info) };
    })();
    c.catch(() => m.delete(key));
    m.set(key, c);
  }
  return c;
}

// Compact JSON: no whitespace between elements (one line, ',' and ':'), so bounded fields end in bounded tokens.
const COMPACT = [false, -1, [',', ':'] as [string, string]] as const;

async function compile({ xg, compiler }: Compiler, c: Constraint): Promise<Compiled> {
  try {
    switch (c.kind) {
      case 'json':
        return await compiler.compileJSONSchema('{"type":"object"}', ...COMPACT, false);
      case 'jsonSchema':
        return await compiler.compileJSONSchema(JSON.stringify(xgrammarSchema(c.schema)), ...COMPACT, true);
      case 'ebnf':
        return await compiler.compileGrammar(c.grammar);
      case 'toolCall': {
        // The structural tag's own json_schema content allows any whitespace: each schema goes in as compact EBNF.
        const tags: { type: 'tag'; begin: string; content: { type: 'grammar'; grammar: string }; end: string }[] = [];
        for (const t of c.tags) {
          const grammar = await xg.Testings._jsonSchemaToEBNF(JSON.stringify(xgrammarSchema(t.schema)), ...COMPACT, true);
          tags.push({ type: 'tag', begin: t.begin, content: { type: 'grammar', grammar }, end: t.end });
        }
        return await compiler.compileStructuralTag({ type: 'structural_tag', format: tags.length === 1 ? tags[0]! : { type: 'or' as const, elements: tags } });
      }
    }
  } catch (cause) {
    // xgrammar aborts its WASM call on a bad grammar and prints the reason to the console.
    const what = c.kind === 'ebnf' ? 'the EBNF grammar' : c.kind === 'toolCall' ? 'the tool-call grammar' : 'the JSON schema';
    throw new InvalidArgumentError(`${what} was refused by xgrammar (its message is on the console): ${String((cause as Error)?.message ?? cause)}`, { cause });
  }
}

/**
 * The grammar state of one generation: the bitmask of the tokens allowed next ([ceil(V / 32)] u32, bit
 * i % 32 of word i / 32), and the sampled tokens accepted one by one.
 */
export class TokenMatcher {
  private constructor(
    private readonly m: Matcher,
    private readonly compiled: Compiled,
    readonly vocabSize: number,
  ) {}

  static async create(tok: TextTokenizer, vocabSize: number, stopIds: readonly number[], c: Constraint): Promise<TokenMatcher> {
    const comp = await compilerFor(tok, vocabSize, stopIds);
    const compiled = await compile(comp, c);
    try {
      return new TokenMatcher(await comp.xg.GrammarMatcher.createGrammarMatcher(compiled, [...stopIds]), compiled, vocabSize);
    } catch (err) {
      compiled.dispose();
      throw err;
    }
  }

  /** The tokens allowed next. */
  async mask(): Promise<Uint32Array> {
    const m = await this.m.getNextTokenBitmask();
    return new Uint32Array(m.buffer, m.byteOffset, Math.ceil(this.vocabSize / 32));
  }

  /** Advances by a sampled token; false if the grammar refuses it (the mask was not applied). */
  accept(id: number): boolean {
    return this.m.acceptToken(id);
  }

  /** The grammar is complete and a stop token was accepted. */
  get terminated(): boolean {
    return this.m.isTerminated();
  }

  dispose(): void {
    this.m.dispose();
    this.compiled.dispose();
  }
}
