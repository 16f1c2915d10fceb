import { statisticValues, type Statistic } from '../cka/statistic.js';
import type { Prng } from '../reference/prng.js';
import { seriesLogP, deviationOf, type StatisticCalibration } from './pvalue.js';
import { addRow, emptyRunning, removeRow, type BatchColumns, type Running } from './window-statistic.js';

/*
 * A false-page budget instead of a level: "a false alarm every N batches on average".
 *
 * A sliding window is judged after every batch, and consecutive windows share all but
 * one batch, so a clean stream's alarms come in spells; what pages is a new spell. How
 * often spells start at a level c depends on c, on the window's length and on the
 * layers' correlation, so it is simulated (alibi-detect calibrates its online detectors'
 * expected run time the same way, for one statistic and no windows):
 *
 *   null batches ──seeded resampling──▶ a stream of L null batches
 *   per window length K: slide a window of K over it, judge every series as a real
 *   window is judged (pvalue.ts), keep the smallest p-value per step
 *   ──▶ new spells per batch at each level c (a table per K, log-log)
 *
 * At run time (budgetLevel) the daemon's windows have lengths k_w (in batches); the level
 * is the c at which their spell rates add up to 1/N: the budget holds for the union of
 * its windows, i.e. for the page (a spell that two windows share is counted twice, so the
 * sum errs towards fewer pages than the budget; the windows' lengths depend on traffic,
 * so their union cannot be simulated ahead). The tails are fitted on other null batches
 * than the stream's: judged on the batches they were fitted to, fresh production batches
 * would look more extreme than the simulated ones (0.36x the budget, measured). Beyond the simulated levels the table continues along
 * its last log-log slope; for windows longer than the longest simulated one, the rate
 * shrinks as 1/sqrt(k) (a moving average's crossings, Rice's formula).
 *
 * What it assumes: batches are independent and identically distributed under the null
 * (no daily cycle), windows are judged once per batch (a scrape every batch or more
 * often; fewer scrapes only lengthen the time between pages), and a budget in time
 * converts at the batch rate the windows see now: when traffic changes, the level follows.
 */

/** Null batches per simulated stream: spell rates down to about 1e-4 per batch are counted, lower ones extrapolated. */
export const SPELL_STEPS = 50_000;

/** A false-page budget: a mean number of batches between false alarms, or a mean time (converted at the windows' batch rate). */
export type FalsePageBudget = { readonly batches: number } | { readonly ms: number };

export interface SpellTable {
  /** simulated window lengths, batches */
  readonly lengths: readonly number[];
  /** natural log of the levels c, ascending */
  readonly logLevels: readonly number[];
  /** per simulated length: natural log of new spells per batch at each level (-Infinity stored as a very negative number) */
  readonly logRates: readonly (readonly number[])[];
}

export interface BudgetSeries {
  readonly layer: number;
  readonly calibration: StatisticCalibration;
  readonly statistic: Statistic;
}

const FLOOR_LOG = -700;

/** Spell rates per level for windows of each of `lengths` batches, on a seeded null stream of `steps` batches. */
export function spellTable(
  columns: readonly BatchColumns[],
  series: readonly BudgetSeries[],
  tabulated: readonly number[],
  lengths: readonly number[],
  steps: number,
  prng: Prng,
): SpellTable {
  // Smoothed tails give fresh batches beyond every replicate very small p-values, so the
  // grid reaches far down: 1e-40 to 0.5.
  const logLevels = Array.from({ length: 65 }, (_, i) => Math.log(1e-40) + (i * (Math.log(0.5) - Math.log(1e-40))) / 64);
  const count = columns[0]?.count ?? 0;
  const stream = Int32Array.from({ length: steps }, () => prng.below(Math.max(1, count)));
  const logRates = lengths.map((k) => {
    const minLogP = smallestLogP(columns, series, tabulated, stream, k);
    const judged = minLogP.length - 1;
    return logLevels.map((level) => {
      let spells = 0;
      for (let t = 1; t < minLogP.length; t++) if (minLogP[t]! < level && !(minLogP[t - 1]! < level)) spells++;
      // Fewer than 5 spells say little about the rate: the tail is extrapolated there instead.
      return spells >= 5 ? Math.log(spells / judged) : FLOOR_LOG;
    });
  });
  return { lengths: [...lengths], logLevels, logRates };
}

function smallestLogP(columns: readonly BatchColumns[], series: readonly BudgetSeries[], tabulated: readonly number[], stream: Int32Array, k: number): Float64Array {
  const out = new Float64Array(Math.max(0, stream.length - k + 1));
  const running: Running[] = columns.map(() => emptyRunning());
  const byLayer = columns.map((_, l) => series.filter((s) => s.layer === l));
  for (let t = 0; t < stream.length; t++) {
    columns.forEach((c, l) => {
      addRow(running[l]!, c, stream[t]!);
      if (t >= k) removeRow(running[l]!, c, stream[t - k]!);
    });
    if (t < k - 1) continue;
    let min = 0;
    byLayer.forEach((layerSeries, l) => {
      // A layer's three statistics from one driftScores, as calibration reads them.
      const values = statisticValues(running[l]!);
      for (const s of layerSeries) {
        const v = values[s.statistic];
        if (v === null || !Number.isFinite(v)) continue;
        const logP = seriesLogP(s.calibration, tabulated, deviationOf(s.calibration, v), k);
        if (logP < min) min = logP;
      }
    });
    out[t - k + 1] = min;
  }
  return out;
}

/** The smallest spell rate per batch the simulation counted (5 spells or more) at any level and length: below it, rates are extrapolated. */
export function resolvedRate(table: SpellTable): number {
  const counted = table.logRates.flat().filter((r) => r > FLOOR_LOG);
  return counted.length > 0 ? Math.exp(Math.min(...counted)) : 1;
}

/** New spells per batch of a window of k batches at level exp(logLevel). */
export function spellRate(table: SpellTable, k: number, logLevel: number): number {
  const { lengths } = table;
  const at = (i: number): number => interpolate(table.logLevels, table.logRates[i]!, logLevel);
  const last = lengths.length - 1;
  if (k >= lengths[last]!) return Math.exp(at(last)) * Math.sqrt(lengths[last]! / k);
  if (!(k > lengths[0]!)) return Math.exp(at(0));
  let hi = 0;
  while (lengths[hi]! < k) hi++;
  const lo = hi - 1;
  const f = Math.log(k / lengths[lo]!) / Math.log(lengths[hi]! / lengths[lo]!);
  return Math.exp((1 - f) * at(lo) + f * at(hi));
}

/**
 * The level at which windows of these lengths start new false spells, together, once per
 * `budget` batches on average; null when no window has a batch.
 */
export function budgetLevel(table: SpellTable, lengths: readonly number[], budget: number): number | null {
  const live = lengths.filter((k) => k > 0);
  if (live.length === 0 || !(budget > 0)) return null;
  const target = 1 / budget;
  const total = (logLevel: number): number => live.reduce((sum, k) => sum + spellRate(table, k, logLevel), 0);
  // Spells grow more frequent with the level only up to a point: past it they merge into
  // fewer, longer ones (at p < 0.5 a long window is in one spell most of the time). The
  // level is searched below that peak, where the rate rises with it.
  const peak = table.logLevels.reduce((best, l) => (total(l) > total(best) ? l : best), table.logLevels[0]!);
  let lo = Math.log(1e-300);
  let hi = peak;
  if (total(hi) <= target) return Math.exp(hi);
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (total(mid) > target) hi = mid;
    else lo = mid;
  }
  return Math.exp(lo);
}

/**
 * Piecewise linear in (x, y), continued along the end segments' slopes; points whose y is
 * the floor (no spell seen) are left out, so the low end extrapolates from real counts.
 */
function interpolate(xs: readonly number[], ys: readonly number[], x: number): number {
  const px: number[] = [];
  const py: number[] = [];
  xs.forEach((v, i) => {
    if (ys[i]! > FLOOR_LOG) {
      px.push(v);
      py.push(ys[i]!);
    }
  });
  if (px.length === 0) return FLOOR_LOG;
  if (px.length === 1) return py[0]! + (x - px[0]!);
  let i = 1;
  while (i < px.length - 1 && px[i]! < x) i++;
  const slope = (py[i]! - py[i - 1]!) / (px[i]! - px[i - 1]!);
  // Below the simulated levels: spells get shorter as the level falls, so their rate falls
  // more slowly than c; a slope of at most 1 errs towards more spells, i.e. a lower level.
  const s = x < px[0]! ? Math.min(1, Math.max(0.5, slope)) : slope;
  return py[i - 1]! + s * (x - px[i - 1]!);
}
