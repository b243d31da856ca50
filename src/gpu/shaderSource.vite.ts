// Browser (and vitest) shader loader: vite inlines every shaders/*.wgsl as a string at build time.
import { setShaderLoader } from './shaderSource.js';

const files = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
const byName = new Map(Object.entries(files).map(([path, text]) => [path.replace(/^.*\/(\w+)\.wgsl$/, '$1'), text]));

setShaderLoader((name) => {
  const text = byName.get(name);
  if (text === undefined) throw new Error(`weblm: no shader named ${name}.wgsl`);
  return text;
});
