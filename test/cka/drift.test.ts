import { describe, expect, it } from 'vitest';
import { addDrift, driftBatch, driftScores, EMPTY_DRIFT, kernelRows, medianGamma, type DriftSums } from '../../src/cka/drift.js';
import { diagonalBlock, gramOf } from '../../src/cka/gram.js';
import { hsic } from '../../src/cka/hsic.js';
import { rbfKernel } from '../../src/cka/pool.js';
import { matmul, normals, rows, stack } from '../helpers/linalg.js';

/** Sample covariance (unbiased) and mean of n rows of width d. */
function moments(x: Float64Array, n: number, d: number): { mean: Float64Array; cov: Float64Array } {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mean[k]! += x[i * d + k]! / n;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < d; b++) cov[a * d + b]! += ((x[i * d + a]! - mean[a]!) * (x[i * d + b]! - mean[b]!)) / (n - 1);
    }
  }
  return { mean, cov };
}

function driftOver(x: Float64Array, r: Float64Array, d: number, batch: number, gamma: number): DriftSums {
  let sums = EMPTY_DRIFT;
  const count = x.length / d / batch;
  for (let b = 0; b < count; b++) {
    const xb = rows(x, d, b * batch, (b + 1) * batch);
    const rb = rows(r, d, b * batch, (b + 1) * batch);
    sums = addDrift(sums, driftBatch(gramOf(stack(xb, rb), 2 * batch, d), batch, gamma));
  }
  return sums;
}

describe('drift statistics from one stacked Gram', () => {
  const d = 5;
  const n = 12;
  const m = 9;
  const x = normals(1, n * d).map((v) => v + 0.5);
  const r = normals(2, m * d);
  const g = gramOf(stack(x, r), n + m, d);

  it('A_xr is tr(S_X S_R) and linear MMD² is |mean_x - mean_r|² - tr(S_X)/n - tr(S_R)/m, exactly', () => {
    const s = driftBatch(g, n, 0.1);
    const mx = moments(x, n, d);
    const mr = moments(r, m, d);
    let trace = 0;
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) trace += mx.cov[a * d + b]! * mr.cov[b * d + a]!;
    expect(s.axr / s.ckaWeight).toBeCloseTo(trace, 9);
    let meanGap = 0;
    let trX = 0;
    let trR = 0;
    for (let a = 0; a < d; a++) {
      meanGap += (mx.mean[a]! - mr.mean[a]!) ** 2;
      trX += mx.cov[a * d + a]!;
      trR += mr.cov[a * d + a]!;
    }
    expect(s.mmdLinear / s.mmdWeight).toBeCloseTo(meanGap - trX / n - trR / m, 9);
    expect(s.samples).toBe(n);
  });

  it('A_xx is HSIC1(K, K) to the last bit, and the RBF MMD² and kernel rows are the direct sums (K read in the rows, not copied)', () => {
    const gamma = 0.1;
    const rowsOut = kernelRows(n, m);
    const s = driftBatch(g, n, gamma, rowsOut);
    const k = diagonalBlock(g, 0, n);
    expect(s.axx).toBe(s.ckaWeight * hsic(k, k));
    let within = 0;
    const toX = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        const kv = rbfKernel(k.data[i * n + i]!, k.data[j * n + j]!, k.data[i * n + j]!, gamma);
        within += kv;
        toX[i]! += kv;
      }
    }
    const l = diagonalBlock(g, n, m);
    let pool = 0;
    let cross = 0;
    for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) if (a !== b) pool += rbfKernel(l.data[a * m + a]!, l.data[b * m + b]!, l.data[a * m + b]!, gamma);
    for (let i = 0; i < n; i++) for (let a = 0; a < m; a++) cross += rbfKernel(g.data[i * (n + m) + i]!, l.data[a * m + a]!, g.data[i * (n + m) + n + a]!, gamma);
    expect(s.mmdRbf / s.mmdWeight).toBeCloseTo(within / (n * (n - 1)) + pool / (m * (m - 1)) - (2 * cross) / (n * m), 12);
    for (let i = 0; i < n; i++) expect(rowsOut.toX[i]).toBeCloseTo(toX[i]!, 12);
  });

  it('explains its errors', () => {
    expect(() => driftBatch(g, 3, 1)).toThrowErrorMatchingInlineSnapshot(
      `[StatisticsError: production batch: needs at least 4 samples for an unbiased estimate, got 3]`,
    );
    expect(() => driftBatch(g, 18, 1)).toThrowErrorMatchingInlineSnapshot(
      `[StatisticsError: reference batch: needs at least 4 samples for an unbiased estimate, got 3]`,
    );
    expect(() => driftBatch(g, n, Number.NaN)).toThrow(/RBF gamma/);
  });

  it('is ≈ 1 (cka) and ≈ 0 (mmd²) for two samples of one distribution, and moves for shifted ones', () => {
    const dd = 8;
    const total = 2048;
    const batch = 64;
    const mixing = normals(5, dd * dd);
    const clean = (seed: number): Float64Array => matmul(normals(seed, total * dd), mixing, total, dd, dd);
    const reference = clean(10);
    const gamma = medianGamma(gramOf(rows(reference, dd, 0, 256), 256, dd));

    const same = driftScores(driftOver(clean(11), reference, dd, batch, gamma));
    expect(Math.abs(same.cka! - 1)).toBeLessThan(0.05);
    expect(Math.abs(same.mmd2Linear!)).toBeLessThan(0.3);
    expect(Math.abs(same.mmd2Rbf!)).toBeLessThan(0.01);

    // mean shift: covariance alignment is blind to it, MMD² is not
    const shifted = clean(12).map((v, i) => (i % dd < 2 ? v + 3 : v));
    const meanShift = driftScores(driftOver(shifted, reference, dd, batch, gamma));
    expect(Math.abs(meanShift.cka! - 1)).toBeLessThan(0.05);
    expect(meanShift.mmd2Linear!).toBeGreaterThan(10);
    expect(meanShift.mmd2Rbf!).toBeGreaterThan(0.05);

    // covariance change: features of a different mixing
    const rotated = matmul(normals(13, total * dd), normals(99, dd * dd), total, dd, dd);
    const covChange = driftScores(driftOver(rotated, reference, dd, batch, gamma));
    expect(covChange.cka!).toBeLessThan(0.8);
    expect(covChange.mmd2Rbf!).toBeGreaterThan(0.05);
  });

  it('sums are additive and scores are null, never NaN, when undefined', () => {
    const a = driftBatch(g, n, 0.2);
    const twice = addDrift(a, a);
    expect(driftScores(twice).cka).toBeCloseTo(driftScores(a).cka!, 12);
    expect(driftScores(twice).mmd2Rbf).toBeCloseTo(driftScores(a).mmd2Rbf!, 12);
    expect(driftScores(EMPTY_DRIFT)).toEqual({ cka: null, mmd2Linear: null, mmd2Rbf: null });
    const flat = driftBatch({ n: 10, data: new Float64Array(100) }, 5, 1);
    expect(driftScores(flat).cka).toBeNull();
    expect(driftScores(flat).mmd2Linear).toBe(0);
  });

  it('medianGamma refuses a reference with no spread', () => {
    expect(() => medianGamma({ n: 4, data: new Float64Array(16).fill(2) })).toThrowErrorMatchingInlineSnapshot(
      `[StatisticsError: reference samples have no spread in this layer (median distance 0): cannot set an RBF bandwidth]`,
    );
  });
});
