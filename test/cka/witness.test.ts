import { describe, expect, it } from 'vitest';
import { driftBatch, driftScores, kernelRows } from '../../src/cka/drift.js';
import { gramOf, type Gram } from '../../src/cka/gram.js';
import { witnessOf } from '../../src/cka/witness.js';
import { normals, stack } from '../helpers/linalg.js';

const D = 5;

/** As the pipeline and compare do: driftBatch fills the kernel row sums, witnessOf reads them. */
function rbfWitness(g: Gram, n: number, gamma: number): ReturnType<typeof witnessOf> {
  const rows = kernelRows(n, g.n - n);
  driftBatch(g, n, gamma, rows);
  return witnessOf(rows, n);
}

describe('witnessOf', () => {
  it('equals the definition, row by row, and its production mean minus its reference mean is the batch MMD²', () => {
    const n = 12;
    const m = 9;
    const x = normals(1, n * D).map((v, i) => v + (i % D === 0 ? 0.8 : 0));
    const r = normals(2, m * D);
    const z = stack(x, r);
    const gamma = 0.1;
    const w = rbfWitness(gramOf(z, n + m, D), n, gamma);
    const k = (a: number, b: number): number => {
      let s = 0;
      for (let c = 0; c < D; c++) s += (z[a * D + c]! - z[b * D + c]!) ** 2;
      return Math.exp(-gamma * s);
    };
    const mean = (row: number, from: number, to: number): number => {
      let s = 0;
      let count = 0;
      for (let j = from; j < to; j++) if (j !== row) (s += k(row, j)), (count += 1);
      return s / count;
    };
    for (let i = 0; i < n; i++) {
      expect(w.production[i]).toBeCloseTo(mean(i, 0, n) - mean(i, n, n + m), 12);
      let nearest = 0;
      for (let a = n; a < n + m; a++) nearest = Math.max(nearest, k(i, a));
      expect(w.novelty[i]).toBeCloseTo(1 - nearest, 12);
    }
    for (let a = 0; a < m; a++) expect(w.reference[a]).toBeCloseTo(mean(n + a, 0, n) - mean(n + a, n, n + m), 12);
    const avg = (v: Float64Array): number => v.reduce((s, t) => s + t, 0) / v.length;
    expect(avg(w.production) - avg(w.reference)).toBeCloseTo(driftScores(driftBatch(gramOf(z, n + m, D), n, gamma)).mmd2Rbf!, 12);
  });

  it('ranks production rows from elsewhere first by novelty (not by witness), and reference rows of a missing mode last', () => {
    // Reference: two modes, at -2 and +2 on every axis. Production: the +2 mode only, plus 3 far rows.
    const n = 40;
    const m = 40;
    const noise = normals(3, (n + m) * D).map((v) => 0.3 * v);
    const z = noise.map((v, i) => {
      const row = Math.floor(i / D);
      if (row < n) return v + (row < 3 ? 6 : 2);
      return v + ((row - n) % 2 === 0 ? 2 : -2);
    });
    const w = rbfWitness(gramOf(z, n + m, D), n, 1 / (2 * D));
    const byNovelty = [...w.novelty.keys()].sort((a, b) => w.novelty[b]! - w.novelty[a]!);
    expect(byNovelty.slice(0, 3).sort()).toEqual([0, 1, 2]);
    expect(Math.min(w.novelty[0]!, w.novelty[1]!, w.novelty[2]!)).toBeGreaterThan(0.99);
    // By witness the +2 mode, doubled in production, outranks the 3 far rows: each of those
    // finds only 2 of its kind among 39.
    const byWitness = [...w.production.keys()].sort((a, b) => w.production[b]! - w.production[a]!);
    expect(byWitness.slice(0, 3).some((i) => i > 2)).toBe(true);
    const missing = [...w.reference.keys()].sort((a, b) => w.reference[a]! - w.reference[b]!).slice(0, m / 2);
    expect(missing.every((a) => a % 2 === 1)).toBe(true);
  });

  it('needs 4 rows on each side', () => {
    expect(() => rbfWitness(gramOf(normals(4, 7 * D), 7, D), 3, 0.1)).toThrow(/at least 4/);
  });
});
