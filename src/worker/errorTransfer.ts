import { transferHandlers, type TransferHandler } from 'comlink';
import { errorClasses } from '../errors.js';

/** An error as it crosses a thread: its class name, message, stack, code and other own fields. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly fields: Record<string, unknown>;
  readonly cause?: SerializedError;
}

export function serializeError(err: Error, depth = 0): SerializedError {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    if (key === 'cause' || key === 'name' || key === 'message' || key === 'stack') continue;
    const v = (err as unknown as Record<string, unknown>)[key];
    if (v === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof v)) fields[key] = v;
  }
  const cause = err.cause instanceof Error && depth < 4 ? serializeError(err.cause, depth + 1) : undefined;
  return { name: err.name, message: err.message, stack: err.stack, fields, ...(cause ? { cause } : {}) };
}

/** Rebuilds the error of its class: every weblm error by name, the built-in Error types, else a plain Error. */
export function deserializeError(s: SerializedError): Error {
  const weblm = (errorClasses as Record<string, new (message: string) => Error>)[s.name];
  const builtin = BUILTINS[s.name];
  const cause = s.cause ? deserializeError(s.cause) : undefined;
  const opts = cause ? { cause } : undefined;
  const err = weblm ? new weblm(s.message) : builtin ? new builtin(s.message, opts) : new Error(s.message, opts);
  if (cause && weblm) Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true });
  if (!weblm && !builtin) err.name = s.name;
  Object.assign(err, s.fields);
  if (s.stack !== undefined) Object.defineProperty(err, 'stack', { value: s.stack, writable: true, configurable: true });
  return err;
}

const BUILTINS: Record<string, new (message: string, options?: { cause?: unknown }) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

interface ThrownValue {
  value: unknown;
}
type SerializedThrow = { isError: true; value: SerializedError } | { isError: false; value: unknown };

let installed = false;

/**
 * Replaces comlink's handler of thrown values (which keeps only message, name and stack of an Error) with
 * one that keeps the class, `code` and fields. Install it on both sides of the worker boundary.
 */
export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const base = transferHandlers.get('throw') as TransferHandler<ThrownValue, SerializedThrow>;
  const handler: TransferHandler<ThrownValue, SerializedThrow> = {
    canHandle: (v): v is ThrownValue => base.canHandle(v),
    serialize({ value }) {
      const s: SerializedThrow = value instanceof Error ? { isError: true, value: serializeError(value) } : { isError: false, value };
      return [s, []];
    },
    deserialize(s) {
      throw s.isError ? deserializeError(s.value) : s.value;
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
}
