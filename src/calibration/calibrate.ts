import type { DriftSums } from '../cka/drift.js';
import { StatisticsError } from '../errors/index.js';
import { STATISTICS, statisticValues, type Statistic } from '../cka/statistic.js';
import { createPrng, type Prng } from '../reference/prng.js';
import { addRow, alarmSide, emptyRunning, statisticOf, toColumns, type BatchColumns } from './window-statistic.js';
import { buildTail } from './tail.js';
import { spellTable, type SpellTable } from './budget.js';
import { seriesLogP, type StatisticCalibration } from './pvalue.js';

export type { StatisticCalibration } from './pvalue.js';

/*
 * The null distribution of every window statistic, from null batches (reference against
 * reference: no drift by construction), as a function of the window's length K in batches:
 *
 *   per-batch null sums (B of them) ──nested bootstrap──▶ window statistic for K = 1..G
 *        │                                 (R replicates of G draws with replacement;
 *        │                                  replicate r's window of K is its first K draws;
 *        │                                  every layer gets the same draws)
 *        ▼
 *   centre  = statistic of all B batches pooled
 *   tail(K) = P(deviation from the centre ≥ x), the replicates smoothed (tail.ts), at the
 *             lengths of LENGTHS; beyond G a Gaussian whose spread shrinks as sqrt(G / K)
 *   p-value = tail(K) at a window's deviation (pvalue.ts); per-series thresholds invert it
 *
 * The floor σ_F is what no bootstrap of these batches can show: the centre is itself an
 * estimate (variance σ₁²/B, σ₁² the per-batch variance of the statistic) and the reference
 * is a finite sample (an offset of variance σ₁²ρ², see referenceRatio). It enters every
 * tail as a Gaussian convolved with the replicates, so it dominates long windows, as it
 * should.
 *
 * One alarm per model (alarm.ts): a window alarms when the smallest p-value over all its
 * layers and statistics is below a level c(K), the falseAlarmRate-quantile of that minimum
 * over the same replicates (each shifted by a draw of the floors, correlated across series). The replicates
 * keep the layers' correlation, so c is neither Bonferroni's α/series nor α.
 */

export interface CalibrationOptions {
  /** target probability that one statistic of one layer is beyond its threshold on one window of clean data, 0 < α < 0.5 */
  readonly falseAlarmRate: number;
  /** target probability that the model's alarm is on for one window of clean data; default falseAlarmRate */
  readonly alarmRate?: number;
  /** the bootstrap's seed: the same seed and batches give the same calibration */
  readonly seed: number;
  /** window lengths bootstrapped directly, 1..maxBatches; longer windows extrapolate. Default 64 */
  readonly maxBatches?: number;
  /** bootstrap replicates per window length. Default 4000 */
  readonly replicates?: number;
  /** sample counts behind the reference offset term ρ of the floor; no such term when absent */
  readonly sizes?: SampleSizes;
  /** also simulate the alarm's spell rates (budget.ts), for a false-page budget; null batches per simulated stream */
  readonly spellSteps?: number;
  /** null batches for that simulation, per layer (aligned with the calibration's); default the same batches */
  readonly spellBatches?: readonly (readonly DriftSums[])[];
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
 * How large the reference's fixed offset is against one batch's noise, as a variance
 * ratio ρ². A reference of N samples is itself a sample: it sits at an offset from the
 * distribution production comes from, which every production batch shares and null
 * batches drawn from the reference cannot see.
 *
 * - MMD² is a degenerate (second-order) U-statistic under the null: its spread scales with
 *   (1/n + 1/m), and an N-sample reference fixes an offset of spread 1/N on that scale,
 *   so ρ² = ((1/N) / (1/n + 1/m))², negligible for any real reference.
 * - The covariance terms of cka are not degenerate: a batch's noise has variance ∝ 1/n and
 *   the reference's offset ∝ 1/N, so ρ² = n/N. With n = 64 and N = 3,000 that is a spread
 *   as large as a 47-batch window's; long windows see it (docs/statistics.md).
 */
export function referenceOffsets(s: SampleSizes): { cka: number; mmd: number } {
  return { cka: s.n / s.reference, mmd: (1 / s.reference / (1 / s.n + 1 / s.m)) ** 2 };
}

/** Window lengths (batches) whose null tails are tabulated; p-values between them interpolate in log K. */
export const LENGTHS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64] as const;

export interface LayerCalibration {
  readonly layer: string;
  /** statistics that could be calibrated (a layer without variance has no cka) */
  readonly statistics: Readonly<Partial<Record<Statistic, StatisticCalibration>>>;
}

export interface Calibration {
  /** per-series level the exported thresholds are drawn at */
  readonly falseAlarmRate: number;
  readonly seed: number;
  /** null batches per layer that the calibration rests on */
  readonly batches: number;
  readonly replicates: number;
  /** samples per null batch: a window's effective length is in batches of this size */
  readonly n: number;
  /** tabulated window lengths (batches) */
  readonly lengths: readonly number[];
  /** the model's alarm: per tabulated length, the level c that the smallest p-value is compared with */
  readonly alarm: { readonly rate: number; readonly levels: readonly number[] };
  /** with a false-page budget: how often the alarm's spells start, per window length and level */
  readonly spells?: SpellTable;
  readonly layers: readonly LayerCalibration[];
}

/**
 * The calibration's method, kept with it in checkpoints: a daemon restarted on a newer
 * method recalibrates rather than reuse levels computed the old way. 2: the alarm's floor
 * draws are correlated across series (2026-12-06).
 */
export const CALIBRATION_METHOD = 2;

/** The fewest null batches that give a usable estimate; real calibrations use 100 or more. */
export const MIN_CALIBRATION_BATCHES = 8;

export function calibrate(perLayer: readonly { layer: string; batches: readonly DriftSums[] }[], options: CalibrationOptions): Calibration {
  const steps = calibrationSteps(perLayer, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * calibrate() one step at a time: the generator pauses after each layer's bootstrap and
 * after each window length of the alarm's level, and returns the calibration. A caller on
 * an event loop (null-batches.ts) lets other work run at every pause; with ResNet-18's 19
 * layers the whole takes seconds, which would otherwise hold the daemon's /metrics.
 */
export function* calibrationSteps(perLayer: readonly { layer: string; batches: readonly DriftSums[] }[], options: CalibrationOptions): Generator<void, Calibration, void> {
  const { falseAlarmRate: alpha, seed } = options;
  const alarmRate = options.alarmRate ?? alpha;
  const maxBatches = options.maxBatches ?? 64;
  const replicates = options.replicates ?? 4000;
  for (const rate of [alpha, alarmRate]) {
    if (!(rate > 0 && rate < 0.5)) throw new StatisticsError(`false-alarm rate must be above 0 and below 0.5, got ${rate}`);
  }
  if (!Number.isSafeInteger(maxBatches) || maxBatches < 1) throw new StatisticsError(`maxBatches must be a positive integer, got ${maxBatches}`);
  if (!Number.isSafeInteger(replicates) || replicates < 100) throw new StatisticsError(`replicates must be an integer of at least 100, got ${replicates}`);
  const count = perLayer[0]?.batches.length ?? 0;
  for (const { layer, batches } of perLayer) {
    if (batches.length < MIN_CALIBRATION_BATCHES) {
      throw new StatisticsError(`layer ${layer}: ${batches.length} calibration batches, at least ${MIN_CALIBRATION_BATCHES} needed`);
    }
    if (batches.length !== count) throw new StatisticsError(`layer ${layer}: ${batches.length} calibration batches, other layers have ${count}`);
    if (batches.some((b) => b.batches !== 1 || b.samples !== batches[0]!.samples)) {
      throw new StatisticsError(`layer ${layer}: calibration batches must be single batches of one size`);
    }
  }
  const lengths: number[] = [...LENGTHS.filter((k) => k < maxBatches), maxBatches];
  const offsets = options.sizes ? referenceOffsets(options.sizes) : { cka: 0, mmd: 0 };
  const columns = perLayer.map(({ batches }) => toColumns(batches));
  const layers: ({ layer: string } & ReturnType<typeof calibrateLayer>)[] = [];
  for (const [l, { layer }] of perLayer.entries()) {
    layers.push({ layer, ...calibrateLayer(columns[l]!, seed, lengths, replicates, offsets) });
    yield;
  }
  const levels = yield* alarmLevels(
    layers.flatMap((l) => l.series),
    lengths,
    replicates,
    alarmRate,
    createPrng(seed ^ 0x5bd1e995),
  );
  const budgetSeries = layers.flatMap((l, layer) => (Object.entries(l.statistics) as [Statistic, StatisticCalibration][]).map(([statistic, calibration]) => ({ layer, statistic, calibration })));
  const spells =
    options.spellSteps === undefined
      ? undefined
      : spellTable(options.spellBatches ? options.spellBatches.map((b) => toColumns(b)) : columns, budgetSeries, lengths, [1, 4, 16, 64].filter((k) => k <= maxBatches), options.spellSteps, createPrng(seed ^ 0x27d4eb2f));
  return {
    falseAlarmRate: alpha,
    seed,
    batches: count,
    replicates,
    n: perLayer[0]?.batches[0]?.samples ?? 0,
    lengths,
    alarm: { rate: alarmRate, levels },
    ...(spells ? { spells } : {}),
    layers: layers.map(({ layer, statistics }) => ({ layer, statistics })),
  };
}

/** One series' calibration with its replicates' deviations per tabulated length (for the joint alarm level). */
interface Series {
  readonly calibration: StatisticCalibration;
  /** deviations[li * replicates + r] */
  readonly deviations: Float64Array;
}

function calibrateLayer(
  c: BatchColumns,
  seed: number,
  lengths: readonly number[],
  replicates: number,
  offsets: { cka: number; mmd: number },
): { statistics: Partial<Record<Statistic, StatisticCalibration>>; series: Series[] } {
  const g = lengths[lengths.length - 1]!;
  const at = new Map(lengths.map((k, i) => [k, i]));
  // values[s][li * replicates + r]: statistic s of replicate r's window of its first lengths[li] draws.
  const values = STATISTICS.map(() => new Float64Array(lengths.length * replicates));
  // Every layer gets the same draws (one seed): a replicate is a set of batches, as in a real window.
  const prng = createPrng(seed);
  for (let r = 0; r < replicates; r++) {
    const running = emptyRunning();
    for (let k = 1; k <= g; k++) {
      addRow(running, c, prng.below(c.count));
      const li = at.get(k);
      if (li === undefined) continue;
      const window = statisticValues(running);
      STATISTICS.forEach((s, si) => {
        values[si]![li * replicates + r] = window[s] ?? NaN;
      });
    }
  }
  const pooled = emptyRunning();
  for (let i = 0; i < c.count; i++) addRow(pooled, c, i);

  const statistics: Partial<Record<Statistic, StatisticCalibration>> = {};
  const series: Series[] = [];
  STATISTICS.forEach((statistic, si) => {
    const centre = statisticOf(statistic, pooled);
    if (!Number.isFinite(centre)) return;
    const side = alarmSide(statistic);
    // Replicates where the statistic is undefined (no variance in a resampled window) have no deviation.
    const deviations = values[si]!.map((v) => (side === 'below' ? centre - v : v - centre));
    const finite = lengths.map((_, li) => deviations.slice(li * replicates, (li + 1) * replicates).filter(Number.isFinite));
    if (finite.some((d) => d.length < replicates / 2)) return;
    const { mean, sd } = moments(finite[lengths.length - 1]!);
    // σ₁² from the longest window: its statistic is closest to a mean of g batches.
    const floor = sd * Math.sqrt(g * (1 / c.count + (statistic === 'cka' ? offsets.cka : offsets.mmd)));
    const tails = finite.map((d) => buildTail(d.sort(), floor));
    const calibration: StatisticCalibration = { side, centre, tails, mean, sd, floor: Number.isFinite(floor) ? floor : 0 };
    statistics[statistic] = calibration;
    series.push({ calibration, deviations });
  });
  return { statistics, series };
}

/**
 * c(K) per tabulated length: the `rate`-quantile over replicates of the smallest p-value
 * of all series, each replicate's deviation shifted by a draw of its series' floor (which
 * the bootstrap does not contain). The floor's draws keep the series' correlation: a
 * replicate's shifts are one other replicate's longest-window deviations, standardised and
 * scaled to each series' floor, the same replicate for every series. The centre's error is
 * a window of all B batches, correlated across series as any long window is; the
 * reference's offset is taken to correlate the same way. (Independent draws per series,
 * as before 2026-12-06, made the smallest p-value of a dozen series too extreme and the
 * alarm too quiet on long windows, where the floor dominates.)
 */
function* alarmLevels(series: readonly Series[], lengths: readonly number[], replicates: number, rate: number, prng: Prng): Generator<void, number[], void> {
  if (series.length === 0) return lengths.map(() => rate);
  const normal = gaussian(prng);
  const last = lengths.length - 1;
  const partner = Array.from({ length: replicates }, () => prng.below(replicates));
  const shifts = series.map((s) => {
    const { mean, sd, floor } = s.calibration;
    return Float64Array.from(partner, (p) => {
      const z = (s.deviations[last * replicates + p]! - mean) / sd;
      return floor * (Number.isFinite(z) ? z : normal());
    });
  });
  const levels: number[] = [];
  for (const [li, k] of lengths.entries()) {
    const minLogP = new Float64Array(replicates).fill(0);
    series.forEach((s, si) => {
      for (let r = 0; r < replicates; r++) {
        const x = s.deviations[li * replicates + r]! + shifts[si]![r]!;
        const logP = seriesLogP(s.calibration, lengths, x, k);
        if (logP < minLogP[r]!) minLogP[r] = logP;
      }
    });
    minLogP.sort();
    // The rate-quantile of the minimum (its lower tail), never above the per-series rate itself.
    levels.push(Math.min(rate, Math.exp(minLogP[Math.min(replicates - 1, Math.floor(rate * replicates))]!)));
    yield;
  }
  return levels;
}

function gaussian(prng: Prng): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    const u = (prng.nextUint32() + 1) / 4294967297;
    const v = prng.nextUint32() / 4294967296;
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  };
}

function moments(values: Float64Array): { mean: number; sd: number } {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let s = 0;
  for (const v of values) s += (v - mean) ** 2;
  return { mean, sd: Math.sqrt(s / Math.max(1, values.length - 1)) };
}
