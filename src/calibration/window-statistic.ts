import type { DriftSums } from '../cka/drift.js';
import type { Statistic } from '../cka/statistic.js';

/**
 * The per-batch numbers a window statistic is built from, as columns (one entry per
 * calibration batch), and the window statistic of a sum of K of them. The same formulas
 * as driftScores: cka is a ratio of sums, mmd2 a mean of per-batch estimates.
 */
export interface BatchColumns {
  readonly count: number;
  readonly axr: Float64Array;
  readonly axx: Float64Array;
  readonly arr: Float64Array;
  readonly mmdLinear: Float64Array;
  readonly mmdRbf: Float64Array;
}

export function toColumns(batches: readonly DriftSums[]): BatchColumns {
  const column = (pick: (s: DriftSums) => number): Float64Array => Float64Array.from(batches, pick);
  return {
    count: batches.length,
    axr: column((s) => s.axr),
    axx: column((s) => s.axx),
    arr: column((s) => s.arr),
    mmdLinear: column((s) => s.mmdLinear),
    mmdRbf: column((s) => s.mmdRbf),
  };
}

/** Running sums of one resampled window. */
export interface Running {
  axr: number;
  axx: number;
  arr: number;
  mmdLinear: number;
  mmdRbf: number;
}

export const emptyRunning = (): Running => ({ axr: 0, axx: 0, arr: 0, mmdLinear: 0, mmdRbf: 0 });

export function addRow(r: Running, c: BatchColumns, i: number): void {
  r.axr += c.axr[i]!;
  r.axx += c.axx[i]!;
  r.arr += c.arr[i]!;
  r.mmdLinear += c.mmdLinear[i]!;
  r.mmdRbf += c.mmdRbf[i]!;
}

/** The window statistic of running sums over `k` batches; NaN where undefined. */
export function statisticOf(statistic: Statistic, r: Running, k: number): number {
  switch (statistic) {
    case 'cka': {
      const d = Math.sqrt(r.axx * r.arr);
      return d > 0 ? r.axr / d : NaN;
    }
    case 'mmd2_linear':
      return r.mmdLinear / k;
    case 'mmd2_rbf':
      return r.mmdRbf / k;
  }
}

/** Which side of its threshold a statistic alarms on: cka falls as representations drift, MMD² rises. */
export function alarmSide(statistic: Statistic): 'below' | 'above' {
  return statistic === 'cka' ? 'below' : 'above';
}
