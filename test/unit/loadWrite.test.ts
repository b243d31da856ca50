import { describe, expect, it } from 'vitest';
import { uploadPacing } from '../../src/gpu/context.js';
import { gpu } from '../helpers/gpu.js';

describe('GpuContext.write', () => {
  it('splits a write larger than uploadPacing.maxWriteBytes into pieces that land byte for byte (odd tail padded)', async () => {
    const ctx = await gpu();
    const max = uploadPacing.maxWriteBytes;
    uploadPacing.maxWriteBytes = 1002; // pieces of 1,000 bytes (whole words)
    try {
      const t = ctx.createTensor([4000], 'f32');
      const data = Uint8Array.from({ length: 10_001 }, (_, i) => (i * 31 + 7) & 0xff);
      ctx.write(t, data.subarray(1), 12); // an unaligned view of 10,000 bytes at byte 12
      ctx.write(t, Uint8Array.of(9, 8, 7), 12 + 10_000); // 3 bytes: padded with a zero
      const got = new Uint8Array(await ctx.read(t));
      expect(got.subarray(0, 12)).toEqual(new Uint8Array(12));
      expect(got.subarray(12, 12 + 10_000)).toEqual(data.subarray(1));
      expect([...got.subarray(10_012, 10_017)]).toEqual([9, 8, 7, 0, 0]);
    } finally {
      uploadPacing.maxWriteBytes = max;
    }
  });
});
