import type { DriftSums } from '../cka/drift.js';
import { StatisticsError } from '../errors/index.js';
import { STATISTICS, type Statistic } from '../cka/statistic.js';
import { createPrng } from '../reference/prng.js';
import { normalQuantile } from './normal.js';
import { nonIncreasing, quantileSorted } from './quantile.js';
import { addRow, alarmSide, emptyRunning, statisticOf, toColumns, type BatchColumns } from './window-statistic.js';

/*
 * Thresholds for a target false-alarm rate α, from null batches (reference against
 * reference: in each batch, pseudo-production and reference draws are disjoint sets of
 * reference samples), as a function of the number K of batches in a window:
 *
 *   per-batch null sums (B of them) ──nested bootstrap──▶ window statistic for K = 1..G
 *        │                                 (R replicates of G draws with replacement;
 *        │                                  replicate r's window of K is its first K draws)
 *        ▼
 *   centre = statistic of all B batches pooled
 *   q(K)   = α-quantile (cka) or (1-α)-quantile (mmd2) over the replicates
 *   d(K)   = distance from centre to q(K) on the alarm side, made non-increasing (PAVA), >= 0
 *   d(K)   = d(G) · sqrt(G / K)                       K > G (the spread of a mean of K batches)
 *   threshold(K) = centre ∓ sqrt( d(K)² + f² )
 *
 * The floor f keeps long windows honest: the centre is itself an estimate (variance
 * σ₁²/B, σ₁² the per-batch variance of the statistic) and the reference is a finite
 * sample (its offset from the production distribution has variance σ₁²ρ², see
 * referenceRatio), so f = z₁₋α · σ₁ · sqrt(1/B + ρ²). It matters once K nears B or 1/ρ².
 *
 * Nested windows (common random numbers) make q(K) smooth in K; PAVA removes what noise
 * is left, so a window's threshold only ever moves towards the centre as it fills.
 */

export interface CalibrationOptions {
  /** target probability that one statistic of one layer alarms on one window of clean data, 0 < α < 0.5 */
  readonly falseAlarmRate: number;
  /** the bootstrap's seed: the same seed and batches give the same thresholds */
  readonly seed: number;
  /** window lengths bootstrapped directly, 1..maxBatches; longer windows extrapolate. Default 64 */
  readonly maxBatches?: number;
  /** bootstrap replicates per window length. Default 4000 */
  readonly replicates?: number;
  /** sample counts behind the reference offset term ρ of the floor; no such term when absent */
  readonly sizes?: SampleSizes;
}

/** Sample counts that decide how much of a window's spread comes from the finite reference. */
export interface SampleSizes {
  /** production and reference samples per batch (n, m) */
  readonly n: number;
  readonly m: number;
  /** N: reference samples, which calibration and production batches draw from */
  readonly reference: number;
}

/**
 * ρ: how large the reference's fixed offset is against one batch's noise. Under the null
 * every statistic here is a degenerate (second-order) U-statistic, whose spread scales
 * with (1/n + 1/m); a reference of N samples is itself a sample, and fixes the offset
 * between production (an unbounded stream) and the reference at a spread of 1/N on the
 * same scale: ρ = (1/N) / (1/n + 1/m). Calibration batches, drawn from the reference on
 * both sides, do not see that offset.
 */
export function referenceRatio(s: SampleSizes): number {
  return 1 / s.reference / (1 / s.n + 1 / s.m);
}

export interface StatisticCalibration {
  readonly side: 'below' | 'above';
  /** the statistic over all calibration batches pooled: where long windows of clean data settle */
  readonly centre: number;
  /** bootstrapped distance from the centre to the α-quantile, on the alarm side, for K = 1..length: non-increasing, >= 0 */
  readonly deviations: readonly number[];
  /** f: the part of the distance that does not shrink with K (centre uncertainty, finite reference) */
  readonly floor: number;
}

export interface LayerCalibration {
  readonly layer: string;
  /** statistics that could be calibrated (a layer without variance has no cka) */
  readonly statistics: Readonly<Partial<Record<Statistic, StatisticCalibration>>>;
}

export interface Calibration {
  readonly falseAlarmRate: number;
  readonly seed: number;
  /** null batches per layer that the thresholds rest on */
  readonly batches: number;
  readonly replicates: number;
  readonly layers: readonly LayerCalibration[];
}

/** The fewest null batches that give a usable estimate; real calibrations use 100 or more. */
export const MIN_CALIBRATION_BATCHES = 8;

export function calibrate(perLayer: readonly { layer: string; batches: readonly DriftSums[] }[], options: CalibrationOptions): Calibration {
  const { falseAlarmRate: alpha, seed } = options;
  const maxBatches = options.maxBatches ?? 64;
  const replicates = options.replicates ?? 4000;
  if (!(alpha > 0 && alpha < 0.5)) throw new StatisticsError(`false-alarm rate must be above 0 and below 0.5, got ${alpha}`);
  if (!Number.isSafeInteger(maxBatches) || maxBatches < 1) throw new StatisticsError(`maxBatches must be a positive integer, got ${maxBatches}`);
  if (!Number.isSafeInteger(replicates) || replicates < 100) throw new StatisticsError(`replicates must be an integer of at least 100, got ${replicates}`);
  const count = perLayer[0]?.batches.length ?? 0;
  for (const { layer, batches } of perLayer) {
    if (batches.length < MIN_CALIBRATION_BATCHES) {
      throw new StatisticsError(`layer ${layer}: ${batches.length} calibration batches, at least ${MIN_CALIBRATION_BATCHES} needed`);
    }
    if (batches.length !== count) throw new StatisticsError(`layer ${layer}: ${batches.length} calibration batches, other layers have ${count}`);
  }
  return {
    falseAlarmRate: alpha,
    seed,
    batches: count,
    replicates,
    layers: perLayer.map(({ layer, batches }) => ({
      layer,
      statistics: calibrateLayer(toColumns(batches), alpha, seed, maxBatches, replicates, options.sizes ? referenceRatio(options.sizes) : 0),
    })),
  };
}

function calibrateLayer(
  c: BatchColumns,
  alpha: number,
  seed: number,
  g: number,
  replicates: number,
  rho: number,
): Partial<Record<Statistic, StatisticCalibration>> {
  // values[s][(k-1) * replicates + r]: statistic s of replicate r's window of its first k draws.
  const values = STATISTICS.map(() => new Float64Array(g * replicates));
  // Every layer gets the same draws (one seed): a replicate is a set of batches, as in a real window.
  const prng = createPrng(seed);
  for (let r = 0; r < replicates; r++) {
    const running = emptyRunning();
    for (let k = 1; k <= g; k++) {
      addRow(running, c, prng.below(c.count));
      STATISTICS.forEach((s, si) => {
        values[si]![(k - 1) * replicates + r] = statisticOf(s, running, k);
      });
    }
  }
  const pooled = emptyRunning();
  for (let i = 0; i < c.count; i++) addRow(pooled, c, i);

  const out: Partial<Record<Statistic, StatisticCalibration>> = {};
  STATISTICS.forEach((statistic, si) => {
    const centre = statisticOf(statistic, pooled, c.count);
    if (!Number.isFinite(centre)) return;
    const side = alarmSide(statistic);
    const raw = new Float64Array(g);
    let lastVariance = 0;
    for (let k = 1; k <= g; k++) {
      const window = values[si]!.subarray((k - 1) * replicates, k * replicates).filter(Number.isFinite).sort();
      if (window.length < 2) return;
      const q = quantileSorted(window, side === 'below' ? alpha : 1 - alpha);
      raw[k - 1] = side === 'below' ? centre - q : q - centre;
      if (k === g) lastVariance = variance(window);
    }
    const deviations = Array.from(nonIncreasing(raw), (d) => Math.max(0, d));
    // σ₁² from the longest bootstrapped window: its statistic is closest to a mean of g batches.
    const perBatchVariance = g * lastVariance;
    const floor = normalQuantile(1 - alpha) * Math.sqrt(perBatchVariance * (1 / c.count + rho * rho));
    out[statistic] = { side, centre, deviations, floor: Number.isFinite(floor) ? floor : 0 };
  });
  return out;
}

function variance(values: Float64Array): number {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let s = 0;
  for (const v of values) s += (v - mean) ** 2;
  return s / (values.length - 1);
}
