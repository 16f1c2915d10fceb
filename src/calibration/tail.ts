import { normalTail } from './normal.js';

/**
 * The null distribution's upper tail of one statistic at one window length, as a table:
 * log P(deviation ≥ x) at increasing distances x from the calibrated centre (toward the
 * alarm side). Built by smoothing the bootstrap's replicates with a Gaussian of spread
 * hypot(floor, h): the floor is the part of a window's deviation the bootstrap cannot see
 * (the centre's own uncertainty, the finite reference), h a kernel bandwidth (Silverman's
 * rule) so that p-values between and beyond replicates are smooth instead of steps.
 *
 * Beyond the table's last point, log p continues along its last slope: an exponential
 * tail, heavier than the Gaussian one the smoothing alone would give, so extrapolated
 * p-values err large (fewer alarms), never small.
 */
export interface NullTail {
  /** distances from the centre, increasing */
  readonly x: readonly number[];
  /** natural log of P(deviation ≥ x), non-increasing, ≤ 0 */
  readonly logP: readonly number[];
}

// Enough for log p between points to be within the Monte Carlo noise of the replicates;
// few enough that a checkpoint carries every layer's tails (6 significant digits each).
const POINTS = 24;
const round = (v: number): number => Number(v.toPrecision(6));

/** The tail from ascending bootstrap deviations (positive = toward the alarm side) and the floor's standard deviation. */
export function buildTail(sorted: Float64Array, floor: number): NullTail {
  const r = sorted.length;
  let mean = 0;
  for (const v of sorted) mean += v;
  mean /= r;
  let ss = 0;
  for (const v of sorted) ss += (v - mean) ** 2;
  const sd = Math.sqrt(ss / Math.max(1, r - 1));
  const h = 1.06 * sd * r ** -0.2;
  const spread = Math.max(Math.hypot(floor, h), Number.MIN_VALUE, 1e-12 * Math.abs(mean));
  // From the 2% quantile (p near 1) to well past the largest replicate.
  const lo = sorted[Math.floor(0.02 * (r - 1))]!;
  const hi = sorted[r - 1]! + 6 * spread;
  const x: number[] = [];
  const logP: number[] = [];
  for (let i = 0; i < POINTS; i++) {
    const at = lo + ((hi - lo) * i) / (POINTS - 1);
    let p = 0;
    for (let j = r - 1; j >= 0; j--) {
      const z = (at - sorted[j]!) / spread;
      // Replicates far below `at` add ~0 each; once one does, so do all below it.
      if (z > 9) break;
      p += normalTail(z);
    }
    x.push(at);
    logP.push(Math.min(0, Math.log(Math.max(p / r, Number.MIN_VALUE))));
  }
  // Monotone by construction up to rounding; make it exact for interpolation.
  for (let i = 1; i < POINTS; i++) logP[i] = Math.min(logP[i]!, logP[i - 1]!);
  return { x: x.map(round), logP: logP.map(round) };
}

/** log P(deviation ≥ x): interpolated in the table, along its last slope beyond it, the table's first value (p near 1) before it. */
export function tailLogP(t: NullTail, x: number): number {
  const n = t.x.length;
  if (!(x > t.x[0]!)) return t.logP[0]!;
  if (x >= t.x[n - 1]!) {
    const slope = (t.logP[n - 1]! - t.logP[n - 2]!) / (t.x[n - 1]! - t.x[n - 2]!);
    return t.logP[n - 1]! + Math.min(0, slope) * (x - t.x[n - 1]!);
  }
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (t.x[mid]! <= x) lo = mid;
    else hi = mid;
  }
  const span = t.x[hi]! - t.x[lo]!;
  const f = span > 0 ? (x - t.x[lo]!) / span : 0;
  return t.logP[lo]! + f * (t.logP[hi]! - t.logP[lo]!);
}
