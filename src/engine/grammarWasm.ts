import type * as Xgrammar from '@mlc-ai/web-xgrammar';

export type XgrammarModule = typeof Xgrammar;

let loading: Promise<XgrammarModule> | undefined;

/**
 * @mlc-ai/web-xgrammar, loaded on the first request for structured output (a page that never asks for it
 * never compiles its WebAssembly, so it needs no 'wasm-unsafe-eval' in its CSP). The WASM is inlined in
 * the package's script as base64 and instantiated from bytes: no fetch, no eval. The package is a UMD
 * script: imported as an ES module (Node) it registers itself as `globalThis.xgrammar` and exports nothing,
 * and it reads CommonJS's `require` and `__filename`, which an ES module has not: they are set for the time
 * of the import and of the first instantiation, then removed. Bundlers wrap it as CommonJS instead.
 */
export function loadXgrammar(): Promise<XgrammarModule> {
  return (loading ??= load().catch((err) => {
    loading = undefined;
    throw err;
  }));
}

async function load(): Promise<XgrammarModule> {
  const g = globalThis as { xgrammar?: XgrammarModule; require?: unknown; __filename?: string };
  const node = nodeModule();
  const shim = node && g.require === undefined;
  if (shim) {
    const entry = node.createRequire(import.meta.url).resolve('@mlc-ai/web-xgrammar');
    g.require = node.createRequire(entry);
    g.__filename = entry;
  }
  try {
    const mod = (await import('@mlc-ai/web-xgrammar')) as Partial<XgrammarModule> & { default?: Partial<XgrammarModule> };
    // Node: the UMD's global; bundlers (vite, rolldown) wrap it as CommonJS: named or default exports.
    const xg = [mod, mod.default, g.xgrammar].find((m): m is XgrammarModule => !!m?.Grammar);
    if (!xg?.Grammar) throw new Error('@mlc-ai/web-xgrammar did not register its API');
    (await xg.Grammar.fromEBNF('root ::= "x"')).dispose(); // instantiates the WASM while the shim is there
    return xg;
  } finally {
    if (shim) {
      delete g.require;
      delete g.__filename;
    }
  }
}

/** node:module in Node (process.getBuiltinModule, Node >= 20.16), undefined in browsers and workers. */
function nodeModule(): { createRequire(url: string): { resolve(id: string): string } & ((id: string) => unknown) } | undefined {
  const p = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!p?.versions?.node || typeof p.getBuiltinModule !== 'function') return undefined;
  return p.getBuiltinModule('node:module') as ReturnType<typeof nodeModule>;
}
