/**
 * Where WGSL comes from, and the small preprocessor that makes variants of it.
 *
 * The text of `shaders/<name>.wgsl` is provided by a platform loader: vite's `?raw` import in the
 * browser (src/gpu/shaderSource.vite.ts) and the file system in Node (src/node/shaderSourceFs.ts).
 *
 * Preprocessor, applied line by line:
 *   #include "name"          the text of shaders/name.wgsl (once per shader)
 *   #if NAME / #if !NAME      kept when define NAME is truthy (or falsy)
 *   #elif NAME / #else / #endif
 *   ${NAME}                   replaced by the define's value (numbers, WGSL type names)
 */
export type ShaderDefines = Readonly<Record<string, string | number | boolean>>;
export type ShaderLoader = (name: string) => string;

let loader: ShaderLoader | undefined;

export function setShaderLoader(load: ShaderLoader): void {
  loader = load;
}

export function shaderText(name: string): string {
  if (!loader) throw new Error('weblm: no shader loader registered (import weblm/node in Node, or the page entry in a browser)');
  return loader(name);
}

export function preprocess(name: string, defines: ShaderDefines = {}): string {
  const included = new Set<string>();
  const expand = (file: string): string[] => {
    included.add(file);
    const out: string[] = [];
    // Each frame: is this branch active, has any branch of this #if been taken, was the parent active.
    const stack: { active: boolean; taken: boolean; parent: boolean }[] = [];
    const active = () => (stack.length === 0 ? true : stack[stack.length - 1]!.active);
    const test = (expr: string) => {
      const e = expr.trim();
      return e.startsWith('!') ? !defines[e.slice(1).trim()] : !!defines[e];
    };
    shaderText(file)
      .split('\n')
      .forEach((line, i) => {
        const m = /^\s*#(include|if|elif|else|endif)\b\s*(.*)$/.exec(line);
        if (!m) {
          if (active()) out.push(line);
          return;
        }
        const [, directive, arg] = m;
        const where = `${file}.wgsl:${i + 1}`;
        switch (directive) {
          case 'include': {
            const inc = /^"([^"]+)"/.exec(arg!)?.[1];
            if (!inc) throw new Error(`${where}: #include needs a "name"`);
            if (active() && !included.has(inc)) out.push(...expand(inc));
            break;
          }
          case 'if': {
            const parent = active();
            const t = parent && test(arg!);
            stack.push({ active: t, taken: t, parent });
            break;
          }
          case 'elif': {
            const top = stack[stack.length - 1];
            if (!top) throw new Error(`${where}: #elif without #if`);
            const t = top.parent && !top.taken && test(arg!);
            top.active = t;
            top.taken ||= t;
            break;
          }
          case 'else': {
            const top = stack[stack.length - 1];
            if (!top) throw new Error(`${where}: #else without #if`);
            top.active = top.parent && !top.taken;
            top.taken = true;
            break;
          }
          case 'endif':
            if (!stack.pop()) throw new Error(`${where}: #endif without #if`);
            break;
        }
      });
    if (stack.length) throw new Error(`${file}.wgsl: unterminated #if`);
    return out;
  };
  return expand(name)
    .join('\n')
    .replace(/\$\{(\w+)\}/g, (_, key: string) => {
      const v = defines[key];
      if (v === undefined) throw new Error(`${name}.wgsl: define \${${key}} has no value`);
      return String(v);
    });
}
