import { CkaMatrix } from '../cka/paired.js';
import { addDrift, driftBatch, driftScores, EMPTY_DRIFT, kernelRows, medianGamma, type DriftSums } from '../cka/drift.js';
import { MIN_SAMPLES, type Gram } from '../cka/gram.js';
import { witnessOf } from '../cka/witness.js';
import { ConfigError, DataError } from '../errors/index.js';
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

/**
 * Drift of data set B (as production) against data set A (as reference), per layer:
 * each batch stacks b_i (n rows) over a_i (m rows) and runs the model once. The RBF
 * bandwidth is fixed per layer from the first reference batch (median heuristic).
 */
export async function compareDrift(
  model: GramModel,
  reference: Dataset,
  production: Dataset,
  batchSize: number,
  progress: Progress = () => {},
): Promise<{ layers: LayerDrift[]; batches: number; samples: number; unused: number }> {
  checkBatch(batchSize);
  if (reference.sampleSize !== production.sampleSize) {
    throw new DataError(
      `${production.name} has samples of ${production.sampleSize} values but ${reference.name} has ${reference.sampleSize}`,
    );
  }
  checkCount(reference, production);
  const count = Math.min(reference.count, production.count);
  const { ranges, unused } = batchRanges(count, batchSize);
  const first = ranges[0]!;
  const gammas = (await model.grams(slice(reference, first), first[1] - first[0])).map((g) => medianGamma(g));
  let sums = model.layers.map(() => EMPTY_DRIFT);
  const novelty = model.layers.map(() => new Float64Array(production.count).fill(Number.NaN));
  const referenceWitness = model.layers.map(() => new Float64Array(reference.count).fill(Number.NaN));
  await pipelined(
    ranges.length,
    async (i) => {
      const r = ranges[i]!;
      const n = r[1] - r[0];
      const x = slice(production, r);
      const stacked = new Float32Array(2 * x.length);
      stacked.set(x);
      stacked.set(slice(reference, r), x.length);
      return { n, grams: await model.grams(stacked, 2 * n) };
    },
    ({ n, grams }, i) => {
      // driftBatch also sums each row's kernel values: which rows of B drifted in, and
      // which rows of A went missing (cka/witness.ts), at no second pass over the Gram.
      sums = sums.map((s, l) => {
        const rows = kernelRows(n, n);
        const batch = driftBatch(grams[l]!, n, gammas[l]!, rows);
        const w = witnessOf(rows, n);
        novelty[l]!.set(w.novelty, ranges[i]![0]);
        referenceWitness[l]!.set(w.reference, ranges[i]![0]);
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
  return { layers, batches: ranges.length, samples, unused: unused + Math.abs(reference.count - production.count) };
}
