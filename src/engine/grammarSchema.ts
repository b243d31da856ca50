import { InvalidArgumentError } from '../errors.js';

// Keywords xgrammar's JSON-schema converter turns into grammar (the others it would drop without a word).
const SUPPORTED = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'allOf',
  '$ref',
  '$defs',
  'definitions',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'format',
]);
// Annotations: no constraint on the value.
const ANNOTATIONS = new Set(['title', 'description', 'default', 'examples', '$schema', '$id', '$comment', 'deprecated', 'readOnly', 'writeOnly']);
const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
const FORMATS = new Set([
  'email',
  'date',
  'time',
  'date-time',
  'duration',
  'uuid',
  'uri',
  'uri-reference',
  'uri-template',
  'hostname',
  'ipv4',
  'ipv6',
  'json-pointer',
  'relative-json-pointer',
]);
const SCHEMA_MAPS = new Set(['properties', '$defs', 'definitions']);
const SCHEMA_LISTS = new Set(['prefixItems', 'anyOf', 'oneOf', 'allOf']);

/**
 * Checks that `schema` uses only what constrained decoding enforces, so that a reply is never said to
 * match a schema whose constraints were silently dropped: an InvalidArgumentError names the first
 * unsupported keyword and where it is (a JSON pointer). `where` prefixes the message (the request field).
 */
export function checkJsonSchema(schema: unknown, where: string): void {
  walk(schema, '#', where, schema);
  xgrammarSchema(schema); // its refusals (empty or too wide integer ranges) at request time too
}

function walk(s: unknown, at: string, where: string, root: unknown): void {
  const fail = (what: string, path: string) => {
    throw new InvalidArgumentError(`${where}: ${what} (at ${path}) is not supported by constrained decoding`);
  };
  if (s === true || s === false) return;
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new InvalidArgumentError(`${where}: a schema must be an object or a boolean (at ${at})`);
  for (const [k, v] of Object.entries(s)) {
    const here = `${at}/${k}`;
    if (ANNOTATIONS.has(k)) continue;
    if (!SUPPORTED.has(k)) fail(`the schema keyword "${k}"`, here);
    if (k === 'type') {
      const types = Array.isArray(v) ? v : [v];
      for (const t of types)
        if (typeof t !== 'string' || !TYPES.has(t)) throw new InvalidArgumentError(`${where}: unknown type ${JSON.stringify(t)} (at ${here})`);
    } else if (SCHEMA_MAPS.has(k)) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgumentError(`${where}: "${k}" must be an object (at ${here})`);
      for (const [name, sub] of Object.entries(v)) walk(sub, `${here}/${name}`, where, root);
    } else if (SCHEMA_LISTS.has(k)) {
      if (!Array.isArray(v)) throw new InvalidArgumentError(`${where}: "${k}" must be an array (at ${here})`);
      v.forEach((sub, i) => walk(sub, `${here}/${i}`, where, root));
    } else if (k === 'items' || k === 'additionalProperties') {
      walk(v, here, where, root);
    } else if (k === '$ref') {
      if (typeof v !== 'string' || !(v === '#' || v.startsWith('#/'))) fail(`a $ref outside the schema (${JSON.stringify(v)})`, here);
      if (resolve(root, v as string) === undefined) throw new InvalidArgumentError(`${where}: $ref ${JSON.stringify(v)} points at nothing (at ${here})`);
    } else if (k === 'format') {
      if (typeof v !== 'string' || !FORMATS.has(v)) fail(`the string format ${JSON.stringify(v)}`, here);
    } else if (k === 'pattern') {
      if (typeof v !== 'string') throw new InvalidArgumentError(`${where}: "pattern" must be a string (at ${here})`);
      const bad = /\(\?<?[=!]|\\[1-9]|\\k</.exec(v);
      if (bad) fail(`the regular-expression construct "${bad[0]}" (lookaround or backreference)`, here);
    } else if (k === 'required') {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
        throw new InvalidArgumentError(`${where}: "required" must be an array of strings (at ${here})`);
    } else if (k === 'enum') {
      if (!Array.isArray(v) || v.length === 0) throw new InvalidArgumentError(`${where}: "enum" must be a non-empty array (at ${here})`);
    } else if (/imum$/.test(k) && !isInteger(s as Record<string, unknown>)) {
      // xgrammar 0.1.27 writes bounds on a non-integer number loosely (1.07 passes maximum 1).
      fail(`"${k}" on a number that is not an integer`, here);
    } else if (k !== 'const') {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`${where}: "${k}" must be a number (at ${here})`);
      if (/Length|Items/.test(k) && !(Number.isInteger(v) && v >= 0)) throw new InvalidArgumentError(`${where}: "${k}" must be an integer >= 0 (at ${here})`);
    }
  }
}

const isInteger = (s: Record<string, unknown>) => s.type === 'integer';

// Widest integer range with both bounds, written as an enum (exact).
const ENUM_RANGE = 4096;

function resolve(root: unknown, ref: string): unknown {
  let node: unknown = root;
  for (const part of ref.slice(2).split('/').filter(Boolean)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * The schema as xgrammar is given it, where its own grammar would let wrong values through: a string with
 * minLength / maxLength (and no pattern or format) becomes the same bounds on a pattern of JSON-safe
 * characters (xgrammar 0.1.27 writes `[^"\\\r\n]{m,n}`, which lets control characters through unescaped:
 * not JSON); an integer with both bounds (up to 4096 values) becomes the enum of its values.
 */
export function xgrammarSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(xgrammarSchema);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'enum' || k === 'const' || k === 'default' || k === 'examples' ? v : xgrammarSchema(v);
  if (out.type === 'integer') {
    const lo =
      out.exclusiveMinimum !== undefined
        ? Math.floor(out.exclusiveMinimum as number) + 1
        : out.minimum !== undefined
          ? Math.ceil(out.minimum as number)
          : undefined;
    const hi =
      out.exclusiveMaximum !== undefined
        ? Math.ceil(out.exclusiveMaximum as number) - 1
        : out.maximum !== undefined
          ? Math.floor(out.maximum as number)
          : undefined;
    // xgrammar writes [0, 130] as [0-9] | [1-9][0-9] | 1[0-3][0-9]: 131..139 pass. The values as an enum are exact.
    if (lo !== undefined && hi !== undefined && out.enum === undefined) {
      if (hi < lo) throw new InvalidArgumentError(`no integer lies between the bounds ${lo} and ${hi}`);
      if (hi - lo >= ENUM_RANGE)
        throw new InvalidArgumentError(`an integer range of more than ${ENUM_RANGE} values (${lo} to ${hi}) is not supported by constrained decoding`);
      const rest = { ...out };
      for (const k of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']) delete rest[k];
      return { ...rest, enum: Array.from({ length: hi - lo + 1 }, (_, i) => lo + i) };
    }
    // One bound: xgrammar's [3-9] | [1-9][0-9]* for minimum 3 lets 1 and 2 through; minimum 0 and 1 are exact.
    if ((lo !== undefined && lo !== 0 && lo !== 1) || hi !== undefined) {
      throw new InvalidArgumentError(`an integer bounded on one side only (other than minimum 0 or 1) is not supported by constrained decoding`);
    }
    if (lo !== undefined) {
      const rest = { ...out };
      for (const k of ['exclusiveMinimum', 'minimum']) delete rest[k];
      return { ...rest, minimum: lo };
    }
  }
  const bounded = out.minLength !== undefined || out.maxLength !== undefined;
  if (out.type === 'string' && bounded && out.pattern === undefined && out.format === undefined) {
    const { minLength, maxLength, ...rest } = out;
    return { ...rest, pattern: `[^"\\\\\\u0000-\\u001f]{${(minLength as number | undefined) ?? 0},${(maxLength as number | undefined) ?? ''}}` };
  }
  return out;
}
