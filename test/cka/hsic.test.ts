import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gramOf } from '../../src/cka/gram.js';
import { hsic, hsicSong, uCenter } from '../../src/cka/hsic.js';
import { StatisticsError } from '../../src/errors/index.js';
import { normalGram, normals, rawGram } from '../helpers/linalg.js';

const shapes = fc.record({
  n: fc.integer({ min: 4, max: 24 }),
  d: fc.integer({ min: 1, max: 12 }),
  e: fc.integer({ min: 1, max: 12 }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

describe('unbiased HSIC', () => {
  it('Song form equals the U-centering form', () => {
    fc.assert(
      fc.property(shapes, ({ n, d, e, seed }) => {
        const k = normalGram(seed, n, d);
        const l = normalGram(seed + 1, n, e);
        const song = hsicSong(k, l);
        const u = hsic(k, l);
        expect(Math.abs(song - u)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(song)));
      }),
    );
  });

  it('is symmetric and invariant to translating the features', () => {
    fc.assert(
      fc.property(shapes, fc.double({ min: -50, max: 50, noNaN: true }), ({ n, d, e, seed }, shift) => {
        const x = normals(seed, n * d);
        const y = normals(seed + 7, n * e);
        const moved = x.map((v, i) => v + shift * ((i % d) + 1));
        const k = rawGram(x, n, d);
        const l = rawGram(y, n, e);
        const base = hsic(k, l);
        expect(hsic(l, k)).toBeCloseTo(base, 9);
        const tol = 1e-7 * (1 + Math.abs(base)) * (1 + shift * shift * d * d);
        expect(Math.abs(hsic(rawGram(moved, n, d), l) - base)).toBeLessThanOrEqual(tol);
      }),
    );
  });

  it('HSIC(K, K) is never negative, even from a float32 Gram of offset features', () => {
    // DESIGN.md stability case: float32 features, mean offset 100, d = 4096.
    const n = 32;
    const d = 4096;
    const z = normals(11, n * d);
    const x32 = Float32Array.from(z, (v) => 100 + v);
    // a naive float32 Gram, no centering: large, nearly equal entries
    const naive = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s = Math.fround(s + Math.fround(x32[i * d + k]! * x32[j * d + k]!));
        naive[i * n + j] = s;
      }
    }
    const fromNaive = hsic({ n, data: naive }, { n, data: naive });
    expect(Number.isNaN(fromNaive)).toBe(false);
    expect(fromNaive).toBeGreaterThanOrEqual(0);
    // centring first (what the augmented ONNX graph does) recovers the float64 value
    const centred = gramOf(x32, n, d);
    const exact = hsic(rawGram(z, n, d), rawGram(z, n, d));
    const got = hsic(centred, centred);
    expect(got).toBeGreaterThan(0);
    expect(Math.abs(got - exact) / exact).toBeLessThan(1e-4);
  });

  it('rejects n < 4, mismatched sizes and non-finite values with clear errors', () => {
    const g3 = normalGram(1, 3, 2);
    expect(() => hsic(g3, g3)).toThrowErrorMatchingInlineSnapshot(
      `[StatisticsError: K: needs at least 4 samples for an unbiased estimate, got 3]`,
    );
    const g5 = normalGram(1, 5, 2);
    const g6 = normalGram(1, 6, 2);
    expect(() => hsic(g5, g6)).toThrowErrorMatchingInlineSnapshot(
      `[StatisticsError: HSIC needs Grams of the same samples: got 5 and 6 rows]`,
    );
    expect(() => hsic({ n: 5, data: new Float64Array(24) }, g5)).toThrow(StatisticsError);
    const bad = { n: 5, data: g5.data.slice() };
    bad.data[7] = Number.NaN;
    expect(() => uCenter(bad)).toThrowErrorMatchingInlineSnapshot(
      `[StatisticsError: Gram matrix: contains NaN or infinite values]`,
    );
    expect(() => hsicSong(bad, g5)).toThrow(StatisticsError);
  });
});
