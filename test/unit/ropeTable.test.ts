import { describe, expect, it } from 'vitest';
import { InvalidModelError, UnsupportedModelError } from '../../src/errors.js';
import { ropeParameters, ropeTable } from '../../src/models/ropeTable.js';
import { maxAbsDiff } from '../helpers/random.js';

describe('ropeParameters', () => {
  it('reads transformers 5 rope_parameters, flat and per layer type', () => {
    const p = ropeParameters({ max_position_embeddings: 256, rope_parameters: { rope_theta: 5e5, rope_type: 'default' } });
    expect(p).toMatchObject({ ropeType: 'default', theta: 5e5, factor: 1, maxPositionEmbeddings: 256 });
    const nested = {
      rope_parameters: { full_attention: { rope_theta: 1e6, rope_type: 'default' }, sliding_attention: { rope_theta: 1e4, rope_type: 'default' } },
    };
    expect(ropeParameters(nested).theta).toBe(1e6);
    expect(ropeParameters(nested, 'sliding_attention').theta).toBe(1e4);
  });

  it('reads the older rope_theta + rope_scaling', () => {
    const p = ropeParameters({
      rope_theta: 5e5,
      max_position_embeddings: 131072,
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    });
    expect(p).toMatchObject({ ropeType: 'llama3', theta: 5e5, factor: 8, originalMaxPositionEmbeddings: 8192 });
    expect(ropeParameters({ rope_theta: 1e4, rope_scaling: { type: 'linear', factor: 2 } })).toMatchObject({ ropeType: 'linear', factor: 2 });
    expect(ropeParameters({ rope_theta: 1e4, rope_scaling: null }).ropeType).toBe('default');
  });

  it('refuses unknown types and missing factors with typed errors', () => {
    expect(() => ropeParameters({ rope_parameters: { rope_theta: 1, rope_type: 'mystery' } })).toThrow(UnsupportedModelError);
    expect(() => ropeParameters({ rope_parameters: { rope_theta: 1, rope_type: 'linear' } })).toThrow(InvalidModelError);
  });
});

describe('ropeTable', () => {
  const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

  it('default: theta^(-2i/d)', () => {
    const { invFreq, attentionFactor } = ropeTable(ropeParameters({ rope_parameters: { rope_theta: 10000, rope_type: 'default' } }), 64);
    expect(invFreq.length).toBe(32);
    for (let i = 0; i < 32; i++) expect(rel(invFreq[i]!, 10000 ** (-(2 * i) / 64))).toBeLessThan(2e-7);
    expect(attentionFactor).toBe(1);
  });

  it('llama3: high frequencies kept, low ones divided by factor, a smooth band between', () => {
    const p = ropeParameters({
      rope_theta: 5e5,
      max_position_embeddings: 131072,
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    });
    const { invFreq } = ropeTable(p, 128);
    for (let i = 0; i < 64; i++) {
      const base = 5e5 ** (-(2 * i) / 128);
      const wavelen = (2 * Math.PI) / base;
      let want: number;
      if (wavelen < 8192 / 4) want = base;
      else if (wavelen > 8192) want = base / 8;
      else {
        const s = (8192 / wavelen - 1) / 3;
        want = (1 - s) * (base / 8) + s * base;
      }
      expect(rel(invFreq[i]!, want)).toBeLessThan(2e-6);
    }
  });

  it('yarn as DeepSeek-V3 configures it: ramp between dims 10 and 23, mscale / mscale_all_dim', () => {
    const p = ropeParameters({
      max_position_embeddings: 163840,
      rope_theta: 10000,
      rope_scaling: { type: 'yarn', factor: 40, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1, original_max_position_embeddings: 4096 },
    });
    const { invFreq, attentionFactor } = ropeTable(p, 64);
    expect(attentionFactor).toBeCloseTo(1, 12);
    for (let i = 0; i < 32; i++) {
      const base = 10000 ** (-(2 * i) / 64);
      const ramp = Math.min(Math.max((i - 10) / (23 - 10), 0), 1);
      const want = (base / 40) * ramp + base * (1 - ramp);
      expect(rel(invFreq[i]!, want)).toBeLessThan(2e-6);
    }
    // mscale 0.707 / mscale_all_dim 0.707 (DeepSeek-V2-Lite) is 1 too; mscale alone gives 0.1 ln(factor) + 1
    const q = ropeParameters({
      max_position_embeddings: 32768,
      rope_parameters: { rope_type: 'yarn', rope_theta: 1e6, factor: 4, original_max_position_embeddings: 32768 },
    });
    expect(ropeTable(q, 128).attentionFactor).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
  });

  it('yarn with truncate false (gpt-oss): fractional ramp bounds', () => {
    const p = ropeParameters({
      max_position_embeddings: 131072,
      rope_parameters: {
        rope_type: 'yarn',
        rope_theta: 150000,
        factor: 32,
        beta_fast: 32,
        beta_slow: 1,
        original_max_position_embeddings: 4096,
        truncate: false,
      },
    });
    const dim = 64;
    const cd = (r: number) => (dim * Math.log(4096 / (r * 2 * Math.PI))) / (2 * Math.log(150000));
    const [lo, hi] = [Math.max(cd(32), 0), Math.min(cd(1), dim - 1)];
    const { invFreq, attentionFactor } = ropeTable(p, dim);
    expect(attentionFactor).toBeCloseTo(0.1 * Math.log(32) + 1, 12);
    for (let i = 0; i < dim / 2; i++) {
      const base = 150000 ** (-(2 * i) / dim);
      const ramp = Math.min(Math.max((i - lo) / (hi - lo), 0), 1);
      expect(rel(invFreq[i]!, (base / 32) * ramp + base * (1 - ramp))).toBeLessThan(2e-6);
    }
  });

  it('linear divides by factor; dynamic is default up to max_position_embeddings and refused beyond', () => {
    const lin = ropeTable(ropeParameters({ rope_theta: 1e4, rope_scaling: { type: 'linear', factor: 4 } }), 16).invFreq;
    const def = ropeTable(ropeParameters({ rope_theta: 1e4 }), 16).invFreq;
    lin.forEach((v, i) => expect(rel(v, def[i]! / 4)).toBeLessThan(2e-7));
    const dyn = ropeParameters({ rope_theta: 1e4, max_position_embeddings: 2048, rope_scaling: { type: 'dynamic', factor: 2 } });
    expect(maxAbsDiff(ropeTable(dyn, 16, 2048).invFreq, def)).toBe(0);
    expect(() => ropeTable(dyn, 16, 4096)).toThrow(UnsupportedModelError);
  });
});
