import type { DriftSums } from '../cka/drift.js';
import { STATISTICS, statisticValues, type Statistic } from '../cka/statistic.js';
import type { Calibration } from './calibrate.js';
import { pValue } from './pvalue.js';
import { lengthFor } from './thresholds.js';

/** One series' p-value on one window. */
export interface SeriesPValue {
  readonly layer: string;
  readonly statistic: Statistic;
  readonly pValue: number;
}

/** The model's alarm on one window: on when the smallest p-value of all series is below the level. */
export interface Alarm {
  readonly on: boolean;
  /** the level the smallest p-value was compared with (c(K), calibrate.ts) */
  readonly level: number;
  /** log10(level / smallest p): how far past the level, in decades; > 0 exactly when on */
  readonly score: number;
  /** the series with the smallest p-value: where the change shows most */
  readonly cause: SeriesPValue;
}

/** Every series' p-value on one window, and the model's alarm; the alarm is null when no series has a p-value. */
export function judgeWindow(
  calibration: Calibration,
  windowSums: readonly { layer: string; sums: DriftSums }[],
  /** the level to compare with instead of c(K): a false-page budget's (budget.ts) */
  budgetLevel?: number,
): { pValues: SeriesPValue[]; alarm: Alarm | null } {
  const pValues: SeriesPValue[] = [];
  let length = 0;
  for (const { layer, sums } of windowSums) {
    const calibrated = calibration.layers.find((l) => l.layer === layer)?.statistics;
    if (!calibrated || sums.batches === 0) continue;
    const values = statisticValues(sums);
    const windowLength = lengthFor(calibration, 'mmd2_rbf', sums);
    for (const statistic of STATISTICS) {
      const c = calibrated[statistic];
      const v = values[statistic];
      if (!c || v === null) continue;
      const k = lengthFor(calibration, statistic, sums);
      const p = pValue(c, calibration.lengths, v, k);
      if (!Number.isFinite(p)) continue;
      pValues.push({ layer, statistic, pValue: p });
      length = Math.max(length, windowLength);
    }
  }
  if (pValues.length === 0) return { pValues, alarm: null };
  const cause = pValues.reduce((a, b) => (b.pValue < a.pValue ? b : a));
  const level = budgetLevel ?? alarmLevel(calibration, length);
  const score = Math.log10(level) - Math.log10(Math.max(cause.pValue, Number.MIN_VALUE));
  return { pValues, alarm: { on: cause.pValue < level, level, score, cause } };
}

/** The effective length (batches) a window's alarm level and spell rate are read at. */
export function alarmLength(calibration: Calibration, windowSums: readonly { sums: DriftSums }[]): number {
  return Math.max(0, ...windowSums.map(({ sums }) => lengthFor(calibration, 'mmd2_rbf', sums)));
}

/** c(K) at a window's effective length: interpolated in log K between tabulated lengths, held at the ends. */
export function alarmLevel(calibration: Calibration, k: number): number {
  const { lengths, alarm } = calibration;
  const levels = alarm.levels;
  if (!(k > lengths[0]!)) return levels[0]!;
  const last = lengths.length - 1;
  if (k >= lengths[last]!) return levels[last]!;
  let hi = 0;
  while (lengths[hi]! < k) hi++;
  const lo = hi - 1;
  const f = Math.log(k / lengths[lo]!) / Math.log(lengths[hi]! / lengths[lo]!);
  return Math.exp((1 - f) * Math.log(levels[lo]!) + f * Math.log(levels[hi]!));
}
