import { StatisticsError } from '../errors/index.js';
import { assertGram, assertMinSamples, diagonalBlock, type Gram, type Numeric } from './gram.js';

/**
 * The reference side of a drift batch, reduced to what the statistics read from it.
 *
 * A batch's statistics need three blocks of the Gram of [X; P] (drift.ts): K = X·Xᵀ,
 * C = X·Pᵀ and L = P·Pᵀ. When the reference rows P are a fixed pool (the daemon's
 * default: the reference features are computed once at start-up), L never changes, and
 * everything the statistics take from it is a handful of numbers and two vectors of
 * length m, computed once here. The model then only has to produce the top n rows of
 * the Gram, [K C] (GramRows), for each production batch.
 *
 * When the reference rows are drawn afresh for every batch (the scheme before the pool),
 * the same summary is taken from each batch's own L block: one code path for both.
 */
export interface PoolSummary {
  /** m: pool rows */
  readonly m: number;
  /** the RBF kernel's gamma this summary was made with */
  readonly gamma: number;
  /** ‖p_a‖² (the diagonal of L), for RBF distances to production rows */
  readonly norms: Float64Array;
  /** mean over a ≠ b of L_ab: the pool's within term of the linear-kernel MMD² */
  readonly linearWithin: number;
  /** mean over a ≠ b of the RBF kernel: the within term of the RBF MMD² */
  readonly rbfWithin: number;
  /** per pool row, the sum of its RBF kernel to the other pool rows (reference witnesses) */
  readonly rbfRowSums: Float64Array;
  /** HSIC1(L, L): unbiased for ‖S_R‖²_F, the denominator's reference part of covariance alignment */
  readonly arr: number;
}

/**
 * The first n rows of the Gram of [X; P], row-major n × (n + m): production rows against
 * themselves (K, the first n columns) and against the m pool rows (C). A stacked Gram's
 * first n rows are exactly its first n·(n+m) values, so topRows is a view, not a copy.
 */
export interface GramRows {
  readonly n: number;
  readonly m: number;
  readonly data: Numeric;
}

export function assertGramRows(r: GramRows, what = 'Gram rows'): void {
  if (!Number.isInteger(r.n) || !Number.isInteger(r.m) || r.n < 0 || r.m < 0) throw new StatisticsError(`${what}: ${r.n}×${r.n + r.m} is not a matrix size`);
  if (r.data.length !== r.n * (r.n + r.m)) {
    throw new StatisticsError(`${what}: expected ${r.n}×${r.n + r.m} = ${r.n * (r.n + r.m)} values, got ${r.data.length}`);
  }
}

/** The first n rows of a stacked (n+m)×(n+m) Gram. */
export function topRows(g: Gram, n: number): GramRows {
  assertGram(g, 'stacked Gram');
  if (!Number.isInteger(n) || n < 0 || n > g.n) throw new StatisticsError(`cannot take ${n} rows of a ${g.n}×${g.n} Gram`);
  return { n, m: g.n - n, data: g.data.subarray(0, n * g.n) };
}

/** The Gram of the first n rows a model run scored: a block of a stacked Gram, or K of a pool batch. */
export function productionBlock(o: LayerOutput, n: number): Gram {
  if (!isPoolBatch(o)) return diagonalBlock(o, 0, n);
  if (o.n !== n) throw new StatisticsError(`a pool batch of ${o.n} production rows, not ${n}`);
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) data[i * n + j] = o.rows[i * (n + 4) + j]!;
  return { n, data };
}

export function rbfKernel(gaa: number, gbb: number, gab: number, gamma: number): number {
  // Squared distance from inner products; clamp the tiny negatives float rounding leaves.
  return Math.exp(-gamma * Math.max(0, gaa + gbb - 2 * gab));
}

export function assertGamma(gamma: number): void {
  if (!(gamma > 0) || !Number.isFinite(gamma)) throw new StatisticsError(`RBF gamma must be a positive number, got ${gamma}`);
}

/** The summary of a pool whose whole Gram L is at hand (m×m). */
export function poolSummary(l: Gram, gamma: number): PoolSummary {
  assertGram(l, 'pool Gram');
  const m = l.n;
  const norms = new Float64Array(m);
  for (let a = 0; a < m; a++) norms[a] = l.data[a * m + a]!;
  // The kernel is symmetric: each pair's exp once, not twice (with fresh draws this runs for
  // every batch, m² exps on the main thread). A float32 Gram may differ from its transpose in
  // the last bit, so both products are averaged.
  const kernelSums = new Float64Array(m);
  for (let a = 0; a < m; a++) {
    for (let b = a + 1; b < m; b++) {
      const k = rbfKernel(norms[a]!, norms[b]!, (l.data[a * m + b]! + l.data[b * m + a]!) / 2, gamma);
      kernelSums[a]! += k;
      kernelSums[b]! += k;
    }
  }
  const builder = poolSummaryBuilder(norms, gamma);
  builder.addRows(0, m, l.data, kernelSums);
  return builder.finish();
}

export interface PoolSummaryBuilder {
  /**
   * Rows [first, first + count) of L, row-major count × m (any row order; each row once).
   * The daemon passes the pool through its own scoring graph in chunks, so L is never
   * held whole (m = 4,096 would be 128 MiB per layer in float64). `kernelSums`: each
   * row's RBF sum over the other rows, when the caller has them already.
   */
  addRows(first: number, count: number, rows: Numeric, kernelSums?: Float64Array): void;
  /** Pool rows [first, first + batch.n) as the pool head reduced them (the pool run through its own head). */
  addReduced(first: number, batch: PoolBatch): void;
  finish(): PoolSummary;
}

/**
 * Accumulates a PoolSummary from rows of L. `norms` (the diagonal of L) comes first: every
 * RBF value needs both rows' norms, and a later row's would not be known yet.
 *
 * HSIC1(L, L) in its sum form (hsic.ts), with L~ = L with a zero diagonal and r_a its row sums:
 *   [ Σ L~²  +  (Σ r_a)² / ((m-1)(m-2))  -  2/(m-2) Σ r_a² ] / (m(m-3)).
 */
export function poolSummaryBuilder(norms: Float64Array, gamma: number): PoolSummaryBuilder {
  const m = norms.length;
  assertMinSamples(m, 'reference pool');
  assertGamma(gamma);
  const rbfRowSums = new Float64Array(m);
  const seen = new Uint8Array(m);
  let squares = 0;
  let total = 0;
  let rowSquares = 0;
  let rbfTotal = 0;
  const addRow = (a: number, rowSum: number, rowSquare: number, kernelSum: number): void => {
    if (a < 0 || a >= m || seen[a] === 1) throw new StatisticsError(`pool row ${a} is outside 0..${m - 1} or given twice`);
    seen[a] = 1;
    squares += rowSquare;
    total += rowSum;
    rowSquares += rowSum * rowSum;
    rbfRowSums[a] = kernelSum;
    rbfTotal += kernelSum;
  };
  return {
    addRows(first, count, rows, kernelSums) {
      if (rows.length !== count * m) throw new StatisticsError(`pool rows: expected ${count}×${m} values, got ${rows.length}`);
      for (let i = 0; i < count; i++) {
        const a = first + i;
        let rowSum = 0;
        let rowSquare = 0;
        let kernelSum = 0;
        const base = i * m;
        for (let b = 0; b < m; b++) {
          if (b === a) continue;
          const v = rows[base + b]!;
          rowSum += v;
          rowSquare += v * v;
          if (!kernelSums) kernelSum += rbfKernel(norms[a]!, norms[b]!, v, gamma);
        }
        addRow(a, rowSum, rowSquare, kernelSums ? kernelSums[i]! : kernelSum);
      }
    },
    addReduced(first, batch) {
      // The pool head's sums run over every pool row, the row's own included: take its
      // diagonal entry out (L_aa = ‖p_a‖², and its kernel value exp(0) = 1).
      const { n, rows } = batch;
      const width = n + 4;
      for (let i = 0; i < n; i++) {
        const a = first + i;
        const own = norms[a]!;
        addRow(a, rows[i * width + n]! - own, rows[i * width + n + 1]! - own * own, rows[i * width + n + 2]! - 1);
      }
    },
    finish() {
      const missing = seen.indexOf(0);
      if (missing >= 0) throw new StatisticsError(`pool row ${missing} was never given`);
      const pairs = m * (m - 1);
      const arr = (squares + (total * total) / ((m - 1) * (m - 2)) - (2 / (m - 2)) * rowSquares) / (m * (m - 3));
      const summary: PoolSummary = { m, gamma, norms, linearWithin: total / pairs, rbfWithin: rbfTotal / pairs, rbfRowSums, arr };
      for (const key of ['linearWithin', 'rbfWithin', 'arr'] as const) {
        if (!Number.isFinite(summary[key])) throw new StatisticsError(`the reference pool gives a non-finite ${key}`);
      }
      return summary;
    },
  };
}

/**
 * A batch of n production rows against a pool of m rows, reduced to what the statistics
 * read: O(n² + m) numbers where the Gram rows [K C] are n·(n + m). The pool head computes
 * it inside the model (reference-graph.ts), so the n·m kernel values are evaluated by ONNX
 * Runtime's vectorised kernels and never cross into JavaScript; reduceBatch computes the
 * same from Gram rows (fresh draws, tests).
 */
export interface PoolBatch {
  readonly kind: 'pool';
  readonly n: number;
  readonly m: number;
  /**
   * n × (n + 4), per production row i: K_i· (its Gram row against the batch), then
   * Σ_j C_ij, Σ_j C_ij², Σ_j k(x_i, p_j) and max_j k(x_i, p_j) over the pool rows j
   */
  readonly rows: Numeric;
  /** 2 × m, per pool row j: Σ_i C_ij, then Σ_i k(x_i, p_j) */
  readonly columns: Numeric;
}

/** What a model run gives per layer: the Gram of every row run (stacked draws), or the batch reduced against a pool. */
export type LayerOutput = Gram | PoolBatch;

export function isPoolBatch(o: LayerOutput): o is PoolBatch {
  return 'kind' in o && o.kind === 'pool';
}

/** A layer's output that must be a Gram (the model holds no pool). */
export function asGram(o: LayerOutput): Gram {
  if (isPoolBatch(o)) throw new StatisticsError('the model scores against a reference pool: it gives pool batches, not Grams');
  return o;
}

/** True when every value of a layer's output is finite (a NaN anywhere poisons its statistics). */
export function isFiniteOutput(o: LayerOutput): boolean {
  const finite = (a: Numeric): boolean => {
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
    return true;
  };
  return isPoolBatch(o) ? finite(o.rows) && finite(o.columns) : finite(o.data);
}

/** Values per tap the pool head outputs for a batch of n against m pool rows (rows, then columns). */
export function poolBatchSize(n: number, m: number): number {
  return n * (n + 4) + 2 * m;
}

/** A pool head's output for one tap, as a PoolBatch (views, no copy). */
export function poolBatchOf(data: Numeric, n: number, m: number): PoolBatch {
  if (data.length !== poolBatchSize(n, m)) {
    throw new StatisticsError(`a pool batch of ${n} rows against ${m} has ${poolBatchSize(n, m)} values, got ${data.length}`);
  }
  return { kind: 'pool', n, m, rows: data.subarray(0, n * (n + 4)), columns: data.subarray(n * (n + 4)) };
}

/** The PoolBatch of Gram rows [K C], in float64: what the pool head computes in the graph. */
export function reduceBatch(g: GramRows, pool: PoolSummary): PoolBatch {
  assertGramRows(g, 'batch Gram rows');
  const { n, m } = g;
  if (pool.m !== m) throw new StatisticsError(`Gram rows against ${m} reference rows, but the pool summary has ${pool.m}`);
  const width = n + m;
  const rows = new Float64Array(n * (n + 4));
  const columns = new Float64Array(2 * m);
  for (let i = 0; i < n; i++) {
    const at = i * (n + 4);
    for (let j = 0; j < n; j++) rows[at + j] = g.data[i * width + j]!;
    const gii = g.data[i * width + i]!;
    let sum = 0;
    let squares = 0;
    let kernel = 0;
    let nearest = 0;
    for (let j = 0; j < m; j++) {
      const v = g.data[i * width + n + j]!;
      const k = rbfKernel(gii, pool.norms[j]!, v, pool.gamma);
      sum += v;
      squares += v * v;
      kernel += k;
      if (k > nearest) nearest = k;
      columns[j]! += v;
      columns[m + j]! += k;
    }
    rows[at + n] = sum;
    rows[at + n + 1] = squares;
    rows[at + n + 2] = kernel;
    rows[at + n + 3] = nearest;
  }
  return { kind: 'pool', n, m, rows, columns };
}

/** Bytes a pool summary keeps (two float64 vectors of length m): for ckawatch_reference_cache_bytes. */
export function poolSummaryBytes(p: PoolSummary): number {
  return p.norms.byteLength + p.rbfRowSums.byteLength;
}
