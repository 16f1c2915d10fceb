import { effectiveBatches, type DriftSums } from '../cka/drift.js';
import type { Statistic } from '../cka/statistic.js';
import type { Calibration, StatisticCalibration } from './calibrate.js';
import { thresholdOf } from './pvalue.js';

/** Fixed thresholds from the configuration, per layer and statistic; they replace calibrated ones. */
export type StaticThresholds = Readonly<Record<string, Readonly<Partial<Record<Statistic, number | undefined>>>>>;

/** What a window's threshold and p-value are read at: its weights, in full batches of the calibration's size. */
export type WindowWeights = Pick<DriftSums, 'ckaWeight' | 'mmdWeight'>;

/** A window's effective length for one statistic (cka's covariance terms and MMD² weigh batches differently). */
export function lengthFor(calibration: Calibration, statistic: Statistic, w: WindowWeights): number {
  const k = effectiveBatches(w, calibration.n);
  return statistic === 'cka' ? k.cka : k.mmd;
}

/** The calibrated per-series threshold of a window with these weights (p-value = falseAlarmRate there). */
export function thresholdAt(calibration: Calibration, statistic: Statistic, c: StatisticCalibration, w: WindowWeights): number | undefined {
  return thresholdOf(c, calibration.lengths, lengthFor(calibration, statistic, w), calibration.falseAlarmRate);
}

/**
 * Thresholds of one layer for a window with these weights: static ones where the
 * configuration sets them (whatever the window), calibrated ones for the rest. Statistics
 * with neither are left out (no threshold, no drift state).
 */
export function thresholdsFor(calibration: Calibration | null, layer: string, w: WindowWeights, overrides: StaticThresholds = {}): Partial<Record<Statistic, number>> {
  const out: Partial<Record<Statistic, number>> = {};
  const calibrated = calibration?.layers.find((l) => l.layer === layer)?.statistics ?? {};
  for (const [statistic, c] of Object.entries(calibrated) as [Statistic, StatisticCalibration][]) {
    const t = thresholdAt(calibration!, statistic, c, w);
    if (t !== undefined && Number.isFinite(t)) out[statistic] = t;
  }
  const fixed = Object.hasOwn(overrides, layer) ? overrides[layer]! : {};
  for (const [statistic, t] of Object.entries(fixed) as [Statistic, number | undefined][]) {
    if (t !== undefined && Number.isFinite(t)) out[statistic] = t;
  }
  return out;
}
