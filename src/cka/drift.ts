import { StatisticsError } from '../errors/index.js';
import { assertGram, assertMinSamples, diagonalBlock, type Gram } from './gram.js';
import { poolSummary, rbfKernel, reduceBatch, topRows, type GramRows, type PoolBatch, type PoolSummary } from './pool.js';
import { uCentring } from './hsic.js';

/**
 * Drift statistics of a production batch X (n samples) against reference samples R
 * (m samples), read from ONE Gram of the stacked batch Z = [X; R]:
 *
 *   G = [ K  C ]    K = G[X,X] (n×n), L = G[R,R] (m×m), C = G[X,R] (n×m)
 *       [ C' L ]
 *
 * Paired CKA is the wrong statistic here: X and R are independent, so E[HSIC1(K, L)] = 0
 * whatever the drift. Instead:
 *
 * - covariance alignment, the CKA of the two covariance operators:
 *     A_xr = ||H_n C H_m||_F² / ((n-1)(m-1))   unbiased for tr(S_X S_R)
 *     A_xx = HSIC1(K, K), A_rr = HSIC1(L, L)   unbiased for ||S||_F²
 *     cka  = sum A_xr / sqrt(sum A_xx * sum A_rr)  (1 when the covariance shape is unchanged)
 * - unbiased MMD² (Gretton et al. 2012) with the linear kernel (sees mean shifts, which
 *   cka is blind to) and with an RBF kernel whose bandwidth is fixed from the reference,
 *   so that per-batch estimates can be summed.
 *
 * Batches of different sizes carry different amounts of evidence, so each adds its
 * statistics weighted by their inverse null variance (statistic-weights below): a partial
 * batch of 8 samples moves a window as little as it should, and a window's effective
 * length (ckaWeight, mmdWeight in full-batch units) is what its threshold is read at.
 *
 * Every field of DriftSums is additive across batches, windows and replicas. One batch's
 * sums need only K, row and column sums of C and of the RBF kernel against R, and a
 * summary of L (pool.ts): driftPooled reads those, whether the model reduced them against
 * a fixed pool inside the graph or reduceBatch took them from a stacked Gram.
 */
export interface DriftSums {
  readonly batches: number;
  /** production samples that went into these sums */
  readonly samples: number;
  /** sums over batches of each batch's A_xr, A_xx, A_rr times its ckaWeight */
  readonly axr: number;
  readonly axx: number;
  readonly arr: number;
  /** sum over batches of the unbiased linear-kernel MMD² times the batch's mmdWeight */
  readonly mmdLinear: number;
  /** the same for the RBF-kernel MMD² */
  readonly mmdRbf: number;
  /** sum of the batches' weights: n - 1 for the covariance terms, n(n - 1)/2 for MMD² (see batchWeights) */
  readonly ckaWeight: number;
  readonly mmdWeight: number;
}

export const EMPTY_DRIFT: DriftSums = { batches: 0, samples: 0, axr: 0, axx: 0, arr: 0, mmdLinear: 0, mmdRbf: 0, ckaWeight: 0, mmdWeight: 0 };

export const DRIFT_FIELDS = ['batches', 'samples', 'axr', 'axx', 'arr', 'mmdLinear', 'mmdRbf', 'ckaWeight', 'mmdWeight'] as const;

export function addDrift(a: DriftSums, b: DriftSums): DriftSums {
  const out: Record<(typeof DRIFT_FIELDS)[number], number> = { ...EMPTY_DRIFT };
  for (const field of DRIFT_FIELDS) out[field] = a[field] + b[field];
  return out;
}

/**
 * A batch's weights, its inverse null variance up to a constant: A_xr and A_xx are
 * non-degenerate U-statistics (variance ∝ 1/(n - 1)), the MMD² estimates degenerate ones
 * under the null (variance ∝ 1/pairs). Weighted this way, a window's statistic has the
 * null spread of a window of Σw / w(n_full) full batches: its effective length.
 */
export function batchWeights(n: number): { ckaWeight: number; mmdWeight: number } {
  return { ckaWeight: (n * (n - 1)) / 2, mmdWeight: (n * (n - 1)) / 2 };
}

/** The weights of a window of `batches` full batches of `n` samples. */
export function fullWindowWeights(batches: number, n: number): { ckaWeight: number; mmdWeight: number } {
  const w = batchWeights(n);
  return { ckaWeight: batches * w.ckaWeight, mmdWeight: batches * w.mmdWeight };
}

/** A window's length in full batches of `n` samples, per statistic family (see batchWeights). */
export function effectiveBatches(s: Pick<DriftSums, 'ckaWeight' | 'mmdWeight'>, n: number): { cka: number; mmd: number } {
  const full = batchWeights(n);
  return { cka: s.ckaWeight / full.ckaWeight, mmd: s.mmdWeight / full.mmdWeight };
}

export interface DriftScores {
  /** covariance-alignment CKA; null where undefined (no batches or no variance) */
  readonly cka: number | null;
  readonly mmd2Linear: number | null;
  readonly mmd2Rbf: number | null;
}

export function driftScores(s: DriftSums): DriftScores {
  if (s.batches === 0) return { cka: null, mmd2Linear: null, mmd2Rbf: null };
  const denominator = Math.sqrt(s.axx * s.arr);
  const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);
  return {
    cka: denominator > 0 ? finiteOrNull(s.axr / denominator) : null,
    mmd2Linear: s.mmdWeight > 0 ? finiteOrNull(s.mmdLinear / s.mmdWeight) : null,
    mmd2Rbf: s.mmdWeight > 0 ? finiteOrNull(s.mmdRbf / s.mmdWeight) : null,
  };
}

/**
 * Per row of [X; R], sums of its RBF kernel values to the other rows of X and of R, and
 * (production rows) the largest to a row of R: what witness.ts reads. Filled by driftBatch
 * in the loops it runs anyway, so witnesses cost no kernel evaluation of their own.
 */
export interface KernelRows {
  readonly toX: Float64Array;
  readonly toR: Float64Array;
  readonly nearestR: Float64Array;
}

export function kernelRows(n: number, m: number): KernelRows {
  return { toX: new Float64Array(n + m), toR: new Float64Array(n + m), nearestR: new Float64Array(n) };
}

/**
 * One batch's contribution, from a stacked Gram: `g` is the (n+m)×(n+m) Gram of [X; R] with
 * the n production rows first; `rbfGamma` is the RBF kernel's 1/bandwidth² (see medianGamma).
 * With `rows` (from kernelRows(n, m)), also the kernel row sums witnesses need.
 */
export function driftBatch(g: Gram, n: number, rbfGamma: number, rows?: KernelRows): DriftSums {
  assertGram(g, 'stacked Gram');
  assertMinSamples(n, 'production batch');
  assertMinSamples(g.n - n, 'reference batch');
  return driftRows(topRows(g, n), poolSummary(diagonalBlock(g, n, g.n - n), rbfGamma), rows);
}

/** One batch's contribution from the top n rows of the Gram of [X; P] (K and C) and the summary of P. */
export function driftRows(g: GramRows, pool: PoolSummary, rows?: KernelRows): DriftSums {
  return driftPooled(reduceBatch(g, pool), pool, rows);
}

/**
 * One batch's contribution against a pool, from the batch reduced against it (PoolBatch:
 * what the daemon's pool head computes inside the model) and the pool's summary. O(n² + m).
 *
 * The double-centred cross block's norm from sums alone: with R_i, Q_j the row and column
 * sums of C and T its total, ‖H_n C H_m‖² = Σ C² − Σ R_i²/m − Σ Q_j²/n + T²/(nm) (double
 * centring is an orthogonal projection). Centring by the pool's mean keeps R_i near 0, so
 * the subtraction loses little.
 */
export function driftPooled(b: PoolBatch, pool: PoolSummary, rows?: KernelRows): DriftSums {
  const { n, m } = b;
  assertMinSamples(n, 'production batch');
  assertMinSamples(m, 'reference batch');
  if (pool.m !== m) throw new StatisticsError(`a batch against ${m} reference rows, but the pool summary has ${pool.m}`);
  const width = n + 4;
  const r = b.rows;

  let total = 0;
  let rowSquares = 0;
  let squares = 0;
  let crossRbf = 0;
  for (let i = 0; i < n; i++) {
    const sum = r[i * width + n]!;
    total += sum;
    rowSquares += sum * sum;
    squares += r[i * width + n + 1]!;
    const toR = r[i * width + n + 2]!;
    crossRbf += toR;
    if (rows) {
      rows.toR[i]! += toR;
      const nearest = r[i * width + n + 3]!;
      if (nearest > rows.nearestR[i]!) rows.nearestR[i] = nearest;
    }
  }
  let columnSquares = 0;
  for (let j = 0; j < m; j++) columnSquares += b.columns[j]! ** 2;
  const axrNumerator = Math.max(0, squares - rowSquares / m - columnSquares / n + (total * total) / (n * m));

  // K is read where it lies in the rows (stride n + 4), in two passes and no n × n copy: its
  // off-diagonal row and column sums (uCentring, as uCenter takes them), then per entry its U-centred value (HSIC1(K, K) =
  // ‖U(K)‖² / (n(n−3)), the same sum in the same order as uCenter and hsicOfCentered) and,
  // above the diagonal, the linear and RBF kernel sums. bench/statistics.ts times it.
  const { rows: kRows, cols: kCols, a, t } = uCentring(r, n, width, 'production Gram');
  let centred = 0;
  let linear = 0;
  let kernel = 0;
  for (let i = 0; i < n; i++) {
    const kii = r[i * width + i]!;
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const v = r[i * width + j]!;
      const u = v - (kRows[i]! + kCols[j]!) * a + t;
      centred += u * u;
      if (j < i) continue;
      linear += 2 * v;
      const kv = rbfKernel(kii, r[j * width + j]!, v, pool.gamma);
      kernel += 2 * kv;
      if (rows) {
        rows.toX[i]! += kv;
        rows.toX[j]! += kv;
      }
    }
  }
  if (rows) {
    for (let j = 0; j < m; j++) {
      rows.toX[n + j]! += b.columns[m + j]!;
      rows.toR[n + j]! += pool.rbfRowSums[j]!;
    }
  }
  const pairs = n * (n - 1);
  const { ckaWeight, mmdWeight } = batchWeights(n);
  const sums: DriftSums = {
    batches: 1,
    samples: n,
    axr: (ckaWeight * axrNumerator) / ((n - 1) * (m - 1)),
    axx: ckaWeight * (centred / (n * (n - 3))),
    arr: ckaWeight * pool.arr,
    mmdLinear: mmdWeight * (linear / pairs + pool.linearWithin - (2 * total) / (n * m)),
    mmdRbf: mmdWeight * (kernel / pairs + pool.rbfWithin - (2 * crossRbf) / (n * m)),
    ckaWeight,
    mmdWeight,
  };
  for (const key of DRIFT_FIELDS) {
    if (!Number.isFinite(sums[key])) throw new StatisticsError(`the batch gives a non-finite ${key}`);
  }
  return sums;
}

/**
 * The RBF kernel's gamma = 1 / median squared distance between reference samples (the
 * median heuristic), read from a reference-only Gram. Fixed once at start-up so that
 * per-batch MMD² estimates stay comparable and can be summed.
 */
export function medianGamma(l: Gram): number {
  assertGram(l, 'reference Gram');
  assertMinSamples(l.n, 'reference Gram');
  const n = l.n;
  const distances = new Float64Array((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      distances[k++] = Math.max(0, l.data[i * n + i]! + l.data[j * n + j]! - 2 * l.data[i * n + j]!);
    }
  }
  distances.sort();
  const half = distances.length >> 1;
  const median = distances.length % 2 === 1 ? distances[half]! : (distances[half - 1]! + distances[half]!) / 2;
  if (!(median > 0) || !Number.isFinite(median)) {
    throw new StatisticsError('reference samples have no spread in this layer (median distance 0): cannot set an RBF bandwidth');
  }
  return 1 / median;
}
