// Node shader loader: reads shaders/<name>.wgsl from the package root (next to dist/ and src/).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setShaderLoader } from '../gpu/shaderSource.js';

function shaderDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'shaders')) || !existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('weblm: cannot find the shaders/ folder of the package');
    dir = up;
  }
  return join(dir, 'shaders');
}

const dir = shaderDir();
const cache = new Map<string, string>();
setShaderLoader((name) => {
  let text = cache.get(name);
  if (text === undefined) cache.set(name, (text = readFileSync(join(dir, `${name}.wgsl`), 'utf8')));
  return text;
});
