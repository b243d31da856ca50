import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { bf16ToF32, dequantize, f16ToF32, f32ToBf16, f32ToF16, quantize, type EncodeDType } from '../../src/weights/quant/index.js';
import { randomF32, rng } from '../helpers/random.js';

const f16 = (bytes: Uint8Array, at: number, h: number) => {
  bytes[at] = h & 0xff;
  bytes[at + 1] = h >>> 8;
};

describe('f16 / bf16', () => {
  it('converts known values both ways (round to nearest even)', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [2 ** -24, 0x0001],
      [2 ** -14, 0x0400],
      [0.1, 0x2e66],
      [1e6, 0x7c00],
      [0, 0],
      [1 + 2 ** -11, 0x3c00], // tie, to even
      [1 + 3 * 2 ** -11, 0x3c02], // tie, to even (up)
    ];
    for (const [v, h] of cases) expect(f32ToF16(v), `${v}`).toBe(h);
    expect(f16ToF32(0x3555)).toBeCloseTo(0.33325195, 7);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(Number.isNaN(f16ToF32(f32ToF16(NaN)))).toBe(true);
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(f32ToBf16(-3.140625)).toBe(0xc049);
    expect(bf16ToF32(0x4049)).toBe(3.140625);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie, to even
  });

  it('round-trips random values within half an ulp', () => {
    const x = randomF32(1001, 7, 4);
    const h = dequantize(quantize(x, 'f16'), 'f16', x.length);
    const b = dequantize(quantize(x, 'bf16'), 'bf16', x.length);
    for (let i = 0; i < x.length; i++) {
      expect(Math.abs(h[i]! - x[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) * 2 ** -11 + 2 ** -25);
      expect(Math.abs(b[i]! - x[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) * 2 ** -8);
    }
  });
});

describe('block formats: known bytes -> known values', () => {
  it('q8_0', () => {
    const bytes = new Uint8Array(68);
    f16(bytes, 0, 0x3800); // 0.5
    f16(bytes, 34, 0xc000); // -2
    for (let i = 0; i < 32; i++) {
      bytes[2 + i] = (i - 16) & 0xff;
      bytes[36 + i] = (127 - 8 * i) & 0xff;
    }
    const v = dequantize(bytes, 'q8_0', 64);
    for (let i = 0; i < 32; i++) {
      expect(v[i]).toBe((i - 16) * 0.5);
      expect(v[32 + i]).toBe((((127 - 8 * i) << 24) >> 24) * -2);
    }
  });

  it('q4_0: low nibbles are elements 0..15, high nibbles 16..31', () => {
    const bytes = new Uint8Array(18);
    f16(bytes, 0, 0x3c00);
    for (let j = 0; j < 16; j++) bytes[2 + j] = j | ((15 - j) << 4);
    const v = dequantize(bytes, 'q4_0', 32);
    for (let j = 0; j < 16; j++) {
      expect(v[j]).toBe(j - 8);
      expect(v[16 + j]).toBe(7 - j);
    }
  });

  it('q4_k: 6-bit packed scales and mins, 64 values per 32 qs bytes', () => {
    const bytes = new Uint8Array(144);
    f16(bytes, 0, 0x3c00); // d = 1
    f16(bytes, 2, 0x3800); // dmin = 0.5
    const sc = [1, 7, 33, 63, 17, 40, 5, 62];
    const mn = [0, 63, 2, 20, 48, 3, 31, 16];
    for (let j = 0; j < 8; j++) {
      if (j < 4) {
        bytes[4 + j] = (sc[j]! & 63) | ((sc[j + 4]! >> 4) << 6);
        bytes[8 + j] = (mn[j]! & 63) | ((mn[j + 4]! >> 4) << 6);
      } else {
        bytes[8 + j] = (sc[j]! & 0xf) | ((mn[j]! & 0xf) << 4);
      }
    }
    const r = rng(3);
    for (let i = 0; i < 128; i++) bytes[16 + i] = Math.floor(r() * 256);
    const v = dequantize(bytes, 'q4_k', 256);
    for (let e = 0; e < 256; e++) {
      const chunk = e >> 6;
      const l = e & 63;
      const q = (bytes[16 + 32 * chunk + (l & 31)]! >> (l >= 32 ? 4 : 0)) & 15;
      const s = e >> 5;
      expect(v[e], `element ${e}`).toBe(sc[s]! * q - 0.5 * mn[s]!);
    }
  });

  it('q6_k: ql low 4 bits, qh high 2 bits, int8 scales per 16', () => {
    const bytes = new Uint8Array(210);
    const r = rng(5);
    for (let i = 0; i < 192; i++) bytes[i] = Math.floor(r() * 256);
    const scales = Array.from({ length: 16 }, (_, i) => ((i * 37) % 256) - 128);
    scales.forEach((s, i) => (bytes[192 + i] = s & 0xff));
    f16(bytes, 208, 0x3400); // d = 0.25
    const v = dequantize(bytes, 'q6_k', 256);
    for (let e = 0; e < 256; e++) {
      const n = e >> 7;
      const g = (e & 127) >> 5;
      const l = e & 31;
      const lo = (bytes[64 * n + 32 * (g & 1) + l]! >> (4 * (g >> 1))) & 15;
      const hi = (bytes[128 + 32 * n + l]! >> (2 * g)) & 3;
      const s = scales[8 * n + 2 * g + (l >> 4)]!;
      expect(v[e], `element ${e}`).toBe(0.25 * s * ((lo | (hi << 4)) - 32));
    }
  });
});

describe('block formats: round trips', () => {
  // Relative RMS error bounds of each format on uniform random values (ggml's formats give about
  // 0.4%, 7%, 4%, 1.5% on such data).
  const bounds: Record<string, number> = { q8_0: 0.01, q4_0: 0.12, q4_k: 0.1, q6_k: 0.03 };
  it.each(['q8_0', 'q4_0', 'q4_k', 'q6_k'] as EncodeDType[])('%s', (dtype) => {
    const n = 256 * 7;
    const x = randomF32(n, 11, 2);
    for (let i = 0; i < 256; i++) x[i] = x[i]! + 3; // a block far from zero: exercises the min of q4_k
    const bytes = quantize(x, dtype);
    const expectedBytes = { q8_0: 34 / 32, q4_0: 18 / 32, q4_k: 144 / 256, q6_k: 210 / 256 }[dtype as 'q8_0']! * n;
    expect(bytes.byteLength).toBe(expectedBytes);
    const y = dequantize(bytes, dtype, n);
    let err = 0;
    let ref = 0;
    for (let i = 0; i < n; i++) {
      err += (y[i]! - x[i]!) ** 2;
      ref += x[i]! ** 2;
    }
    expect(Math.sqrt(err / ref)).toBeLessThan(bounds[dtype]!);
    expect(dequantize(quantize(new Float32Array(n), dtype), dtype, n).every((v) => v === 0)).toBe(true);
  });

  it('q8_0 matches ggml exactly: d = amax / 127, qs = round(x / d)', () => {
    const x = Float32Array.from({ length: 32 }, (_, i) => (i - 10) * 0.25);
    const b = quantize(x, 'q8_0');
    expect(b[0]! | (b[1]! << 8)).toBe(f32ToF16(5.25 / 127));
    expect((b[2 + 31]! << 24) >> 24).toBe(127);
    expect((b[2]! << 24) >> 24).toBe(Math.round(-2.5 / (5.25 / 127)));
  });

  it('rejects partial blocks', () => {
    expect(() => quantize(new Float32Array(33), 'q4_0')).toThrow(InvalidArgumentError);
    expect(() => dequantize(new Uint8Array(100), 'q4_k', 512)).toThrow(InvalidArgumentError);
  });
});
