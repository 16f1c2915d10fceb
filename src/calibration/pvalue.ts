import { normalTail } from './normal.js';
import { tailLogP, type NullTail } from './tail.js';

/** One statistic of one layer, calibrated: its null distribution as a function of the window's length. */
export interface StatisticCalibration {
  readonly side: 'below' | 'above';
  /** the statistic over all calibration batches pooled: where long windows of clean data settle */
  readonly centre: number;
  /** null tail of the deviation from the centre (toward the alarm side) per tabulated length (Calibration.lengths) */
  readonly tails: readonly NullTail[];
  /** mean and standard deviation of the bootstrapped deviation at the longest tabulated length */
  readonly mean: number;
  readonly sd: number;
  /** σ_F: the standard deviation of the part that does not shrink with K (centre uncertainty, finite reference) */
  readonly floor: number;
}

/**
 * A window statistic's p-value under the calibrated null, at the window's effective length
 * k in full batches (drift.ts effectiveBatches; fractional when batches were partial):
 *
 *   k < 1           a single partial batch: the one-batch tail at x·sqrt(k) (a batch of
 *                   fewer pairs has the same null shape, spread by 1/sqrt(k))
 *   1 ≤ k ≤ G       the tabulated tails, log p interpolated linearly in log k
 *   k > G           Gaussian: the bootstrap's spread at G shrunk by sqrt(G/k), plus the
 *                   floor; never a larger p-value than at G
 */
export function seriesLogP(c: StatisticCalibration, lengths: readonly number[], x: number, k: number): number {
  if (!(k > 0)) return 0;
  const last = lengths.length - 1;
  const g = lengths[last]!;
  if (k > g) {
    const spread = Math.hypot(c.sd * Math.sqrt(g / k), c.floor);
    const z = (x - (c.mean * g) / k) / spread;
    return shorter(c, last, x, Math.log(Math.max(normalTail(z), Number.MIN_VALUE)));
  }
  if (k < 1) return tailLogP(c.tails[0]!, x * Math.sqrt(k));
  let hi = 0;
  while (lengths[hi]! < k) hi++;
  if (lengths[hi] === k || hi === 0) return shorter(c, hi, x, tailLogP(c.tails[hi]!, x));
  const lo = hi - 1;
  const f = Math.log(k / lengths[lo]!) / Math.log(lengths[hi]! / lengths[lo]!);
  return shorter(c, lo, x, (1 - f) * tailLogP(c.tails[lo]!, x) + f * tailLogP(c.tails[hi]!, x));
}

/**
 * A longer window is never noisier than a shorter one: on the alarm side (x > 0) no
 * p-value exceeds that of a tabulated shorter length. The bootstrap's tails obey this up
 * to Monte Carlo noise; this removes the noise, so thresholds only ever move towards the
 * centre as a window fills.
 */
function shorter(c: StatisticCalibration, upTo: number, x: number, logP: number): number {
  if (!(x > 0)) return logP;
  let out = logP;
  for (let i = 0; i <= upTo; i++) out = Math.min(out, tailLogP(c.tails[i]!, x));
  return out;
}

/** The deviation of `value` from the centre, positive toward the alarm side. */
export function deviationOf(c: StatisticCalibration, value: number): number {
  return c.side === 'below' ? c.centre - value : value - c.centre;
}

/** P(a clean window of effective length k is at least this far out): never NaN, in (0, 1]. */
export function pValue(c: StatisticCalibration, lengths: readonly number[], value: number, k: number): number {
  return Math.exp(seriesLogP(c, lengths, deviationOf(c, value), k));
}

/** The value at which the p-value of a window of effective length k is `alpha` (the per-series threshold); undefined when k ≤ 0. */
export function thresholdOf(c: StatisticCalibration, lengths: readonly number[], k: number, alpha: number): number | undefined {
  if (!(k > 0) || !(alpha > 0 && alpha < 1)) return undefined;
  const target = Math.log(alpha);
  // Bracket the distance: p falls as x grows (to 0 along the tails' slopes).
  const widen = 1 / Math.sqrt(Math.min(k, 1));
  let lo = -(Math.abs(c.tails[0]!.x[0]!) + c.floor + c.sd) * widen - 1e-12;
  let step = Math.max(c.sd, c.floor, 1e-12) * widen;
  let hi = lo + step;
  for (let i = 0; i < 200 && seriesLogP(c, lengths, hi, k) > target; i++) {
    step *= 2;
    hi = lo + step;
  }
  if (seriesLogP(c, lengths, lo, k) <= target) return c.side === 'below' ? c.centre - lo : c.centre + lo;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (seriesLogP(c, lengths, mid, k) > target) lo = mid;
    else hi = mid;
  }
  const x = (lo + hi) / 2;
  return c.side === 'below' ? c.centre - x : c.centre + x;
}
