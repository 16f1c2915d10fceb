import type { Statistic } from '../cka/statistic.js';
import type { Calibration, StatisticCalibration } from './calibrate.js';

/** Fixed thresholds from the configuration, per layer and statistic; they replace calibrated ones. */
export type StaticThresholds = Readonly<Record<string, Readonly<Partial<Record<Statistic, number | undefined>>>>>;

/**
 * The threshold of a window holding `batches` batches: centre ∓ sqrt(d(K)² + f²), with
 * d(K) bootstrapped up to the grid's end G and, beyond it, d(G) shrunk by sqrt(G / K).
 * Undefined for an empty window (no score to compare).
 */
export function thresholdAt(c: StatisticCalibration, batches: number): number | undefined {
  const g = c.deviations.length;
  if (!(batches >= 1) || g === 0) return undefined;
  const k = Math.floor(batches);
  const d = k <= g ? c.deviations[k - 1]! : c.deviations[g - 1]! * Math.sqrt(g / k);
  const distance = Math.hypot(d, c.floor);
  return c.side === 'below' ? c.centre - distance : c.centre + distance;
}

/**
 * Thresholds of one layer for a window of `batches` batches: static ones where the
 * configuration sets them (whatever the window), calibrated ones for the rest. Statistics
 * with neither are left out (no threshold, no drift state).
 */
export function thresholdsFor(
  calibration: Calibration | null,
  layer: string,
  batches: number,
  overrides: StaticThresholds = {},
): Partial<Record<Statistic, number>> {
  const out: Partial<Record<Statistic, number>> = {};
  const calibrated = calibration?.layers.find((l) => l.layer === layer)?.statistics ?? {};
  for (const [statistic, c] of Object.entries(calibrated) as [Statistic, StatisticCalibration][]) {
    const t = thresholdAt(c, batches);
    if (t !== undefined && Number.isFinite(t)) out[statistic] = t;
  }
  const fixed = Object.hasOwn(overrides, layer) ? overrides[layer]! : {};
  for (const [statistic, t] of Object.entries(fixed) as [Statistic, number | undefined][]) {
    if (t !== undefined && Number.isFinite(t)) out[statistic] = t;
  }
  return out;
}
