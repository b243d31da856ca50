// CI check: src/ imports only look down the layer order below, and no modules import each other in a circle.
// A layer is a top-level folder (or file) of src/; a module may import its own layer and the layers before it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ORDER = [
  'errors.ts',
  'gpu',
  'image',
  'weights',
  'kernels',
  'layers',
  'models',
  'tokenizer',
  'storage',
  'browser',
  'engine',
  'worker',
  'node',
  'index.ts',
];
const root = resolve(import.meta.dirname, '../src');
const files = [];
const walk = (d) => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) files.push(p);
  }
};
walk(root);

const layerOf = (p) => {
  const top = relative(root, p).split('/')[0];
  const i = ORDER.indexOf(top);
  if (i < 0) throw new Error(`check-layers: src/${top} has no place in the layer order (scripts/check-layers.mjs)`);
  return i;
};
const problems = [];
const imports = new Map();
for (const f of files) {
  const deps = [...readFileSync(f, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) =>
    resolve(dirname(f), m[1].replace(/\.js$/, '.ts')),
  );
  imports.set(f, deps);
  for (const d of deps) if (layerOf(d) > layerOf(f)) problems.push(`upward import: src/${relative(root, f)} -> src/${relative(root, d)}`);
}
// Circles: Tarjan's strongly connected components over the import graph.
let next = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const visit = (v) => {
  index.set(v, next);
  low.set(v, next++);
  stack.push(v);
  onStack.add(v);
  for (const w of imports.get(v) ?? []) {
    if (!imports.has(w)) continue;
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) === index.get(v)) {
    const scc = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      scc.push(`src/${relative(root, w)}`);
    } while (w !== v);
    if (scc.length > 1) problems.push(`import circle: ${scc.join(' <-> ')}`);
  }
};
for (const f of files) if (!index.has(f)) visit(f);

if (problems.length) {
  console.error(problems.join('\n'));
  console.error(`check-layers: ${problems.length} problem(s); the layer order is ${ORDER.join(' < ')}`);
  process.exit(1);
}
console.log(`check-layers: ${files.length} modules, no upward import, no circle (${ORDER.join(' < ')})`);
