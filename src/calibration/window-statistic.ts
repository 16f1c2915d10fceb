import { driftScores, type DriftSums } from '../cka/drift.js';
import type { Statistic } from '../cka/statistic.js';

/**
 * The per-batch numbers a window statistic is built from, as columns (one entry per
 * calibration batch), and the window statistic of a sum of K of them: driftScores itself,
 * so that calibration and production cannot disagree on a formula.
 */
export interface BatchColumns {
  readonly count: number;
  readonly axr: Float64Array;
  readonly axx: Float64Array;
  readonly arr: Float64Array;
  readonly mmdLinear: Float64Array;
  readonly mmdRbf: Float64Array;
  readonly ckaWeight: Float64Array;
  readonly mmdWeight: Float64Array;
}

const FIELDS = ['axr', 'axx', 'arr', 'mmdLinear', 'mmdRbf', 'ckaWeight', 'mmdWeight'] as const;

export function toColumns(batches: readonly DriftSums[]): BatchColumns {
  const column = (field: (typeof FIELDS)[number]): Float64Array => Float64Array.from(batches, (s) => s[field]);
  return {
    count: batches.length,
    axr: column('axr'),
    axx: column('axx'),
    arr: column('arr'),
    mmdLinear: column('mmdLinear'),
    mmdRbf: column('mmdRbf'),
    ckaWeight: column('ckaWeight'),
    mmdWeight: column('mmdWeight'),
  };
}

/** Running sums of one resampled window. */
export type Running = { -readonly [K in keyof DriftSums]: number };

export const emptyRunning = (): Running => ({ batches: 0, samples: 0, axr: 0, axx: 0, arr: 0, mmdLinear: 0, mmdRbf: 0, ckaWeight: 0, mmdWeight: 0 });

export function addRow(r: Running, c: BatchColumns, i: number): void {
  r.batches += 1;
  for (const field of FIELDS) r[field] += c[field][i]!;
}

/** Takes batch i out of a sliding window's running sums. */
export function removeRow(r: Running, c: BatchColumns, i: number): void {
  r.batches -= 1;
  for (const field of FIELDS) r[field] -= c[field][i]!;
}

/** The window statistic of running sums; NaN where undefined. */
export function statisticOf(statistic: Statistic, r: DriftSums): number {
  const s = driftScores(r);
  const v = statistic === 'cka' ? s.cka : statistic === 'mmd2_linear' ? s.mmd2Linear : s.mmd2Rbf;
  return v ?? NaN;
}

/** Which side of its threshold a statistic alarms on: cka falls as representations drift, MMD² rises. */
export function alarmSide(statistic: Statistic): 'below' | 'above' {
  return statistic === 'cka' ? 'below' : 'above';
}
