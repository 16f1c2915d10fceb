import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addPaired, CkaMatrix, EMPTY_PAIRED, pairedBatch, pairedCka } from '../../src/cka/paired.js';
import type { Gram } from '../../src/cka/gram.js';
import { matmul, normalGram, normals, orthogonal, rawGram, rows } from '../helpers/linalg.js';

const cka = (k: Gram, l: Gram): number => pairedCka(pairedBatch(k, l))!;

/** Features Y = tanh(X W) + noise: related to X but not linearly equivalent. */
function related(x: Float64Array, n: number, d: number, e: number, seed: number): Float64Array {
  const y = matmul(x, normals(seed, d * e), n, d, e);
  const noise = normals(seed + 1, n * e);
  return y.map((v, i) => Math.tanh(v) + 0.3 * noise[i]!);
}

const cases = fc.record({
  n: fc.integer({ min: 8, max: 40 }),
  d: fc.integer({ min: 2, max: 8 }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

describe('paired CKA', () => {
  it('CKA(X, X) = 1 to 1e-9', () => {
    fc.assert(
      fc.property(cases, ({ n, d, seed }) => {
        const k = normalGram(seed, n, d);
        expect(Math.abs(cka(k, k) - 1)).toBeLessThan(1e-9);
      }),
    );
  });

  it('is symmetric, invariant to orthogonal maps and isotropic scaling, not to anisotropic scaling', () => {
    fc.assert(
      fc.property(cases, fc.double({ min: 0.01, max: 100, noNaN: true }), ({ n, d, seed }, scale) => {
        const x = normals(seed, n * d);
        const y = related(x, n, d, 5, seed + 3);
        const k = rawGram(x, n, d);
        const l = rawGram(y, n, 5);
        const base = cka(k, l);
        expect(cka(l, k)).toBeCloseTo(base, 10);
        const rotated = matmul(x, orthogonal(seed + 5, d), n, d, d);
        expect(cka(rawGram(rotated, n, d), l)).toBeCloseTo(base, 8);
        expect(cka(rawGram(x.map((v) => v * scale), n, d), l)).toBeCloseTo(base, 8);
      }),
    );
    // anisotropic: stretch one axis of X by 20
    const n = 64;
    const d = 4;
    const x = normals(3, n * d);
    const y = related(x, n, d, 5, 9);
    const stretched = x.map((v, i) => (i % d === 0 ? 20 * v : v));
    const base = cka(rawGram(x, n, d), rawGram(y, n, 5));
    expect(Math.abs(cka(rawGram(stretched, n, d), rawGram(y, n, 5)) - base)).toBeGreaterThan(0.05);
  });

  it('independently drawn representations give CKA near 0', () => {
    const n = 400;
    const x = normals(21, n * 6);
    const y = normals(22, n * 6);
    const value = cka(rawGram(x, n, 6), rawGram(y, n, 6));
    expect(Math.abs(value)).toBeLessThan(0.05);
  });

  it('minibatch CKA agrees with the full-batch unbiased estimate', () => {
    const n = 1024;
    const batch = 128;
    const d = 6;
    const x = normals(31, n * d);
    const y = related(x, n, d, 4, 32);
    const full = cka(rawGram(x, n, d), rawGram(y, n, 4));
    let sums = EMPTY_PAIRED;
    for (let b = 0; b < n; b += batch) {
      const xb = rows(x, d, b, b + batch);
      const yb = rows(y, 4, b, b + batch);
      sums = addPaired(sums, pairedBatch(rawGram(xb, batch, d), rawGram(yb, batch, 4)));
    }
    expect(sums.batches).toBe(n / batch);
    expect(Math.abs(pairedCka(sums)! - full)).toBeLessThan(0.02);
  });

  it('is null, never NaN, where undefined', () => {
    expect(pairedCka(EMPTY_PAIRED)).toBeNull();
    const constant = { n: 5, data: new Float64Array(25).fill(3) };
    expect(pairedCka(pairedBatch(constant, constant))).toBeNull();
  });
});

describe('CkaMatrix', () => {
  it('matches cell-by-cell paired sums and shares work when both models are the same', () => {
    const n = 16;
    const layers = [2, 3, 5].map((d, i) => normalGram(40 + i, n, d));
    const other = [4, 1].map((d, i) => normalGram(50 + i, n, d));
    const m = new CkaMatrix(3, 2);
    m.add(layers, other);
    m.add(layers, other);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 2; j++) {
        const one = pairedBatch(layers[i]!, other[j]!);
        expect(m.values()[i]![j]).toBeCloseTo(pairedCka(addPaired(one, one))!, 12);
      }
    }
    const self = new CkaMatrix(3, 3);
    self.add(layers, layers);
    const v = self.values();
    for (let i = 0; i < 3; i++) expect(v[i]![i]).toBeCloseTo(1, 12);
    expect(v[0]![1]).toBeCloseTo(v[1]![0]!, 12);
    expect(() => m.add(layers, layers)).toThrowErrorMatchingInlineSnapshot(
      `[StatisticsError: expected 3 and 2 Grams, got 3 and 3]`,
    );
  });
});
