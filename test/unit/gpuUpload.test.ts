import { describe, expect, it } from 'vitest';
import { InvalidModelError } from '../../src/errors.js';
import { uploadStreamed } from '../../src/storage/gpuUpload.js';
import type { ByteSource } from '../../src/weights/files.js';
import { gpu } from '../helpers/gpu.js';

/** Bytes of a deterministic pattern, read in ranges (as a cached file or a URL would give them). */
function patternSource(size: number, failAt?: number): ByteSource & { reads: number } {
  const src = {
    size,
    reads: 0,
    async read(offset: number, length: number) {
      src.reads++;
      if (failAt !== undefined && offset + length > failAt) throw new InvalidModelError(`read past ${failAt}`);
      return Uint8Array.from({ length }, (_, i) => ((offset + i) * 7 + 3) & 0xff);
    },
  };
  return src;
}

describe('uploadStreamed', () => {
  it('uploads a range in chunks read ahead, paced in windows, split at rows into parts', async () => {
    const ctx = await gpu();
    const rowBytes = 100;
    const length = 3001 * rowBytes; // parts of 1,000 rows: three and one row
    const src = patternSource(length + 37);
    const parts = await uploadStreamed(ctx.device, src, 37, length, { chunkBytes: 7 * 1024, windowBytes: 32 * 1024, maxPartBytes: 1000 * rowBytes, rowBytes });
    expect(parts.map((p) => [p.firstRow, p.rows])).toEqual([
      [0, 1000],
      [1000, 1000],
      [2000, 1000],
      [3000, 1],
    ]);
    for (const p of parts) {
      const got = new Uint8Array(await ctx.read(p.buffer, Math.ceil(p.byteLength / 4) * 4)).subarray(0, p.byteLength);
      const want = Uint8Array.from({ length: p.byteLength }, (_, i) => ((37 + p.firstRow * rowBytes + i) * 7 + 3) & 0xff);
      expect(got).toEqual(want);
      p.buffer.destroy();
    }
  });

  it('rejects with the error of a read that fails (a read ahead included)', async () => {
    const ctx = await gpu();
    const src = patternSource(1 << 20, 300_000);
    const err = await uploadStreamed(ctx.device, src, 0, 400_000, { chunkBytes: 16 * 1024, maxPartBytes: 160_000, rowBytes: 4 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidModelError);
    expect((err as Error).message).toMatch(/read past 300000/);
  });
});
