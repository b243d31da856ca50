import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, vi } from 'vitest';

/**
 * The stdout lines of a CLI main() run in-process (console.log captured), which must exit 0. `quiet`:
 * stderr (progress lines) is swallowed too.
 */
export async function cliLines(main: (argv: string[]) => Promise<number>, argv: string[], opts: { quiet?: boolean } = {}): Promise<string[]> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((s: string) => void lines.push(s));
  const err = opts.quiet ? vi.spyOn(console, 'error').mockImplementation(() => {}) : undefined;
  try {
    expect(await main(argv)).toBe(0);
  } finally {
    log.mockRestore();
    err?.mockRestore();
  }
  return lines;
}

/** The JSON summary a CLI prints as its last stdout line (`weblm run`). */
export async function cliSummary(main: (argv: string[]) => Promise<number>, argv: string[]): Promise<Record<string, any>> {
  return JSON.parse((await cliLines(main, argv)).at(-1)!);
}

/** A fresh path for `--dump-logits` (in a temporary folder), and `read()`: the f32 logits a run wrote there. */
export async function logitsDump(): Promise<{ path: string; read(): Promise<Float32Array> }> {
  const path = join(await mkdtemp(join(tmpdir(), 'weblm-cli-')), 'logits.bin');
  return {
    path,
    async read() {
      const bytes = await readFile(path);
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    },
  };
}
