import { CkaMatrix } from '../cka/paired.js';
import { addDrift, driftBatch, driftScores, EMPTY_DRIFT, kernelRows, medianGamma, type DriftSums } from '../cka/drift.js';
import { MIN_SAMPLES, type Gram } from '../cka/gram.js';
import { witnessOf } from '../cka/witness.js';
import { ConfigError, DataError } from '../errors/index.js';
import { createPrng, deriveSeed } from '../reference/prng.js';
import { batchRanges, pipelined } from './batches.js';

/**
 * Offline comparisons, torch_cka's job without its bugs:
 *
 *   paired    CKA matrix between every layer of model A and every layer of model B on
 *             the SAME samples (minibatch CKA, ratio of summed unbiased HSICs)
 *   drift     one model, two data sets: per layer, covariance-alignment CKA and unbiased
 *             MMD² of data set B against data set A, from one Gram of the stacked batch
 *   positional torch_cka's dataset comparison, pairing rows of A and B by position. Its
 *             expectation is 0 whatever the drift; kept only for reproducing old results.
 */

/** A model whose chosen layers come back as Grams of a batch. */
export interface GramModel {
  readonly name: string;
  readonly layers: readonly string[];
  grams(samples: Float32Array, n: number): Promise<Gram[]>;
}

export interface Dataset {
  readonly name: string;
  readonly count: number;
  readonly sampleSize: number;
  readonly data: Float32Array;
}

export type Progress = (done: number, total: number) => void;

export interface MatrixResult {
  readonly cka: (number | null)[][];
  readonly batches: number;
  readonly samples: number;
  /**
   * Rows that no batch used, written as `unused_samples`: a last batch under 4 rows
   * (unbiased HSIC needs n >= 4) and, with two data sets, the rows of the longer one past
   * the shorter one's end (rows pair by position). Nothing is lost: a smaller --batch-size
   * or equal lengths use them.
   */
  readonly unused: number;
}

function slice(d: Dataset, [start, end]: [number, number]): Float32Array {
  return d.data.subarray(start * d.sampleSize, end * d.sampleSize);
}

function checkBatch(size: number): void {
  if (!Number.isInteger(size) || size < MIN_SAMPLES) {
    throw new ConfigError(`--batch-size must be a whole number of at least ${MIN_SAMPLES} (the unbiased HSIC divides by n-3), got ${size}`);
  }
}

/** Every data set must fill one batch of MIN_SAMPLES; says which one does not. */
function checkCount(...sets: Dataset[]): void {
  for (const d of sets) {
    if (d.count < MIN_SAMPLES) throw new DataError(`${d.name}: ${d.count} samples, need at least ${MIN_SAMPLES}`);
  }
}

/** CKA matrix of model A's layers against model B's layers on the same samples (B may be A). */
export async function comparePaired(
  a: GramModel,
  b: GramModel,
  data: Dataset,
  batchSize: number,
  progress: Progress = () => {},
): Promise<MatrixResult> {
  checkBatch(batchSize);
  checkCount(data);
  const { ranges, unused } = batchRanges(data.count, batchSize);
  const matrix = new CkaMatrix(a.layers.length, b.layers.length);
  await pipelined(
    ranges.length,
    async (i) => {
      const x = slice(data, ranges[i]!);
      const n = ranges[i]![1] - ranges[i]![0];
      const ga = await a.grams(x, n);
      return { ga, gb: a === b ? ga : await b.grams(x, n) };
    },
    ({ ga, gb }, i) => {
      matrix.add(ga, gb);
      progress(i + 1, ranges.length);
    },
  );
  return { cka: matrix.values(), batches: matrix.batches, samples: matrix.samples, unused };
}

/** torch_cka's dataset comparison: rows of A and B paired by position (see the note above). */
export async function comparePositional(
  model: GramModel,
  a: Dataset,
  b: Dataset,
  batchSize: number,
  progress: Progress = () => {},
): Promise<MatrixResult> {
  checkBatch(batchSize);
  checkCount(a, b);
  const count = Math.min(a.count, b.count);
  const { ranges, unused } = batchRanges(count, batchSize);
  const matrix = new CkaMatrix(model.layers.length, model.layers.length);
  await pipelined(
    ranges.length,
    async (i) => {
      const n = ranges[i]![1] - ranges[i]![0];
      return { ga: await model.grams(slice(a, ranges[i]!), n), gb: await model.grams(slice(b, ranges[i]!), n) };
    },
    ({ ga, gb }, i) => {
      matrix.add(ga, gb);
      progress(i + 1, ranges.length);
    },
  );
  return { cka: matrix.values(), batches: matrix.batches, samples: matrix.samples, unused: unused + Math.abs(a.count - b.count) };
}

export interface LayerDrift {
  readonly layer: string;
  readonly cka: number | null;
  readonly mmd2Linear: number | null;
  readonly mmd2Rbf: number | null;
  readonly rbfGamma: number;
  readonly sums: DriftSums;
  /** per row of data set B: 1 - RBF kernel to the nearest row of A in its batch (NaN for rows left out) */
  readonly novelty: Float64Array;
  /** per row of data set A: the MMD witness in its batch, low where B has nothing like it (NaN for rows left out) */
  readonly referenceWitness: Float64Array;
}

/** The `k` rows of `scores` with the highest (or lowest) finite scores, best first. */
export function topRows(scores: Float64Array, k: number, order: 'highest' | 'lowest'): { index: number; score: number }[] {
  const sign = order === 'highest' ? 1 : -1;
  return Array.from(scores, (score, index) => ({ index, score }))
    .filter((r) => Number.isFinite(r.score))
    .sort((a, b) => sign * (b.score - a.score))
    .slice(0, k);
}

/** Rows the RBF bandwidth is set from (median heuristic): all of the reference up to this many. */
export const BANDWIDTH_ROWS = 1000;
/** The most reference rows one batch is compared with (its Gram is (n + m)²). */
export const MAX_REFERENCE_ROWS = 1024;

export interface DriftOptions {
  /** seeds the shuffles of both data sets (rows of a file are often ordered by class or time) */
  readonly seed?: number;
}

export interface DriftResult {
  readonly layers: LayerDrift[];
  readonly batches: number;
  readonly samples: number;
  readonly unused: number;
  /** reference rows per batch */
  readonly m: number;
  /** the reference rows, shuffled: batch i is compared with the next m of them, cycling */
  readonly referenceOrder: Int32Array;
}

/** 0..count-1 in a seeded random order (Fisher-Yates). */
export function shuffled(count: number, seed: number): Int32Array {
  const prng = createPrng(seed);
  const out = Int32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = prng.below(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Rows `indices` of `d`, one after another. */
export function gatherRows(d: Dataset, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * d.sampleSize);
  for (let k = 0; k < indices.length; k++) out.set(d.data.subarray(indices[k]! * d.sampleSize, (indices[k]! + 1) * d.sampleSize), k * d.sampleSize);
  return out;
}

/**
 * Reference rows per batch: enough that the batches together meet every reference row
 * (the reference divided among them), at least a batch's worth, at most MAX_REFERENCE_ROWS,
 * and leaving a batch's worth of rows over for the null batches (verdict.ts), which draw
 * n + m distinct reference rows each.
 */
export function referenceRowsPerBatch(referenceCount: number, batchSize: number, batches: number): number {
  const wanted = Math.min(MAX_REFERENCE_ROWS, Math.max(batchSize, Math.ceil(referenceCount / Math.max(1, batches))));
  return Math.max(MIN_SAMPLES, Math.min(wanted, referenceCount - batchSize));
}

/**
 * Drift of data set B (as production) against data set A (as reference), per layer. Both
 * are shuffled (seeded); each batch stacks the next n rows of B over the next m rows of A
 * (cycling through A, referenceRowsPerBatch) and runs the model once. The RBF bandwidth is
 * fixed per layer from up to BANDWIDTH_ROWS rows of A (median heuristic). A short last
 * batch counts by its pairs (drift.ts batchWeights).
 */
export async function compareDrift(
  model: GramModel,
  reference: Dataset,
  production: Dataset,
  batchSize: number,
  progress: Progress = () => {},
  options: DriftOptions = {},
): Promise<DriftResult> {
  checkBatch(batchSize);
  if (reference.sampleSize !== production.sampleSize) {
    throw new DataError(
      `${production.name} has samples of ${production.sampleSize} values but ${reference.name} has ${reference.sampleSize}`,
    );
  }
  checkCount(reference, production);
  const seed = options.seed ?? 0;
  const order = shuffled(production.count, deriveSeed(seed, 1));
  const referenceOrder = shuffled(reference.count, deriveSeed(seed, 2));
  const { ranges, unused } = batchRanges(production.count, batchSize);
  const m = referenceRowsPerBatch(reference.count, batchSize, ranges.length);
  const bandwidthRows = Math.min(BANDWIDTH_ROWS, reference.count);
  const gammas = (await model.grams(gatherRows(reference, referenceOrder.subarray(0, bandwidthRows)), bandwidthRows)).map((g) => medianGamma(g));
  let sums = model.layers.map(() => EMPTY_DRIFT);
  const novelty = model.layers.map(() => new Float64Array(production.count).fill(Number.NaN));
  const referenceWitness = model.layers.map(() => new Float64Array(reference.count).fill(Number.NaN));
  const referenceRows = (i: number): Int32Array => Int32Array.from({ length: m }, (_, k) => referenceOrder[(i * m + k) % reference.count]!);
  await pipelined(
    ranges.length,
    async (i) => {
      const [start, end] = ranges[i]!;
      const n = end - start;
      const rows = referenceRows(i);
      const stacked = new Float32Array((n + m) * production.sampleSize);
      stacked.set(gatherRows(production, order.subarray(start, end)));
      stacked.set(gatherRows(reference, rows), n * production.sampleSize);
      return { n, rows, grams: await model.grams(stacked, n + m) };
    },
    ({ n, rows: referenceIndices, grams }, i) => {
      const start = ranges[i]![0];
      // driftBatch also sums each row's kernel values: which rows of B drifted in, and
      // which rows of A went missing (cka/witness.ts), at no second pass over the Gram.
      sums = sums.map((s, l) => {
        const rows = kernelRows(n, m);
        const batch = driftBatch(grams[l]!, n, gammas[l]!, rows);
        const w = witnessOf(rows, n);
        for (let k = 0; k < n; k++) novelty[l]![order[start + k]!] = w.novelty[k]!;
        for (let k = 0; k < m; k++) referenceWitness[l]![referenceIndices[k]!] = w.reference[k]!;
        return addDrift(s, batch);
      });
      progress(i + 1, ranges.length);
    },
  );
  const layers = model.layers.map((layer, l) => ({
    layer,
    ...driftScores(sums[l]!),
    rbfGamma: gammas[l]!,
    sums: sums[l]!,
    novelty: novelty[l]!,
    referenceWitness: referenceWitness[l]!,
  }));
  const samples = ranges.reduce((total, [start, end]) => total + end - start, 0);
  return { layers, batches: ranges.length, samples, unused, m, referenceOrder };
}
