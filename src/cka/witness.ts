import type { KernelRows } from './drift.js';
import { assertMinSamples } from './gram.js';

/**
 * The witness function of the RBF MMD between a production batch X (n rows) and reference
 * rows R (m rows), at every row, read from the stacked Gram of [X; R] that the batch's
 * statistics use already (Gretton et al. 2012, section 2.3):
 *
 *   f(z) = mean_{x in X, x != z} k(z, x) - mean_{r in R, r != z} k(z, r)
 *
 * The empirical witness is the function whose mean gap between X and R is the MMD: a
 * production row with a high f is like the new traffic and unlike the reference (what
 * drifted in); a reference row with a low f is one production no longer resembles (what
 * went missing). Excluding z itself keeps a lone outlier from scoring high on its own
 * k(z, z) = 1. Its means over the two sides differ by exactly the batch's unbiased MMD².
 *
 * A row's witness leans on the other 63 rows of its batch, though: a few strange samples
 * in a batch (5% of the traffic) each find only 2-3 of their kind there, so their
 * witness hardly stands out of the noise of ordinary rows. Their novelty does,
 *
 *   novelty(x) = 1 - max_{r in R} k(x, r)     in [0, 1]: 1 is far from every reference row,
 *
 * the distance to the nearest reference row in kernel units (the k-nearest-neighbour
 * out-of-distribution score of Sun et al. 2022, with k = 1), which needs no company. The
 * daemon ranks production samples by it (witnesses.ts). On 5% inverted digits among clean
 * ones it put 29-32 of them in the top 32 of the first four digits-cnn layers, where the
 * mean kernel managed 10 of 32 at pool2 and the witness 9 (test/integration/witnesses.test.ts).
 * Every kernel value is one the batch's MMD² evaluates already: driftBatch sums them per row
 * (KernelRows) in its own loops, and this only divides.
 */
export interface Witness {
  /** f at each production row */
  readonly production: Float64Array;
  /** novelty of each production row */
  readonly novelty: Float64Array;
  /** f at each reference row */
  readonly reference: Float64Array;
}

/** The witness and novelty of every row, from the kernel row sums driftBatch filled (drift.ts). */
export function witnessOf(rows: KernelRows, n: number): Witness {
  const m = rows.toX.length - n;
  assertMinSamples(n, 'production batch');
  assertMinSamples(m, 'reference batch');
  const production = new Float64Array(n);
  const novelty = new Float64Array(n);
  const reference = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    production[i] = rows.toX[i]! / (n - 1) - rows.toR[i]! / m;
    novelty[i] = 1 - rows.nearestR[i]!;
  }
  for (let a = 0; a < m; a++) reference[a] = rows.toX[n + a]! / n - rows.toR[n + a]! / (m - 1);
  return { production, novelty, reference };
}
