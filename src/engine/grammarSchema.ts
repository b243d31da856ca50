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
}

function walk(s: unknown, at: string, where: string, root: unknown): void {
  const fail = (what: string) => {
    throw new InvalidArgumentError(`${where}: ${what} (at ${at}) is not supported by constrained decoding`);
  };
  if (s === true || s === false) return;
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new InvalidArgumentError(`${where}: a schema must be an object or a boolean (at ${at})`);
  for (const [k, v] of Object.entries(s)) {
    const here = `${at}/${k}`;
    if (ANNOTATIONS.has(k)) continue;
    if (!SUPPORTED.has(k)) fail(`the schema keyword "${k}"`);
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
      if (typeof v !== 'string' || !(v === '#' || v.startsWith('#/'))) fail(`a $ref outside the schema (${JSON.stringify(v)})`);
      if (resolve(root, v as string) === undefined) throw new InvalidArgumentError(`${where}: $ref ${JSON.stringify(v)} points at nothing (at ${here})`);
    } else if (k === 'format') {
      if (typeof v !== 'string' || !FORMATS.has(v)) fail(`the string format ${JSON.stringify(v)}`);
    } else if (k === 'pattern') {
      if (typeof v !== 'string') throw new InvalidArgumentError(`${where}: "pattern" must be a string (at ${here})`);
      const bad = /\(\?<?[=!]|\\[1-9]|\\k</.exec(v);
      if (bad) fail(`the regular-expression construct "${bad[0]}" (lookaround or backreference)`);
    } else if (k === 'required') {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
        throw new InvalidArgumentError(`${where}: "required" must be an array of strings (at ${here})`);
    } else if (k === 'enum') {
      if (!Array.isArray(v) || v.length === 0) throw new InvalidArgumentError(`${where}: "enum" must be a non-empty array (at ${here})`);
    } else if (k !== 'const') {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`${where}: "${k}" must be a number (at ${here})`);
      if (/Length|Items/.test(k) && !(Number.isInteger(v) && v >= 0)) throw new InvalidArgumentError(`${where}: "${k}" must be an integer >= 0 (at ${here})`);
    }
  }
}

function resolve(root: unknown, ref: string): unknown {
  let node: unknown = root;
  for (const part of ref.slice(2).split('/').filter(Boolean)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
