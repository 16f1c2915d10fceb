/**
 * Clean held-out digits, many windows: does every series, and the model alarm, alarm as
 * often as configured, for every window length and every reference.seed? Shared by the CI
 * test (trimmed) and tools/validate.ts (full).
 *
 *   per seed: the daemon's Calibrator (pool split, held-out null batches, calibration)
 *   C clean production batches (n distinct held-out digits each, or n_i uniform in [8, n]
 *   for the partial-batch stream) through the model's pool head ─driftPooled─▶ per-layer sums
 *   per window length K: W windows of K batches drawn from the C (with replacement) ─▶
 *   per series: beyond its threshold? per window: the model alarm on?
 *
 * Windows are sums of per-batch sums, exactly as the daemon's WindowSet keeps them, so the
 * model runs C batches, not W·K.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeWindow } from '../../src/calibration/alarm.js';
import { budgetLevel, SPELL_STEPS, spellRate } from '../../src/calibration/budget.js';
import type { Calibration } from '../../src/calibration/calibrate.js';
import { addDrift, driftPooled, EMPTY_DRIFT, type DriftSums } from '../../src/cka/drift.js';
import { isPoolBatch } from '../../src/cka/pool.js';
import { isDrifting, STATISTICS, statisticValues, type Statistic } from '../../src/cka/statistic.js';
import { REFERENCE_DEFAULTS } from '../../src/config/schema.js';
import { Calibrator } from '../../src/daemon/reference.js';
import { gather, loadDigits } from '../../src/demo/digits.js';
import { writeNpyFile } from '../../src/io/npy-file.js';
import { TappedModel } from '../../src/model/tapped.js';
import { createPrng, type Prng } from '../../src/reference/prng.js';
import { silentLogger } from '../../src/util/logger.js';
import { splitDigitsRandomly } from './harness.js';

export interface CleanStudyOptions {
  readonly modelPath: string;
  readonly layers?: readonly string[];
  readonly n: number;
  readonly seeds: readonly number[];
  readonly calibrationBatches: number;
  /** per-series level (calibration.falseAlarmRate) and the model alarm's (alarm.falseAlarmRate) */
  readonly falseAlarmRate: number;
  readonly alarmRate: number;
  /** distinct clean batches computed per seed and stream */
  readonly cleanBatches: number;
  readonly lengths: readonly number[];
  /** windows per length */
  readonly windows: number;
  /** also a stream of partial batches, sizes uniform in [8, n] */
  readonly partial: boolean;
  /**
   * False-page budgets (alarm.meanBatchesBetweenFalseAlarms): a clean stream of
   * `streamBatches` full batches, sliding windows of each of `lengths` batches judged
   * after every batch at the budget's level; new spells of their union are false pages.
   */
  readonly budget?: { readonly budgets: readonly number[]; readonly lengths: readonly number[]; readonly streamBatches: number };
  readonly progress?: (message: string) => void;
}

export interface LengthResult {
  readonly length: number;
  readonly windows: number;
  /** alarms of each statistic, summed over layers */
  readonly series: Readonly<Record<Statistic, number>>;
  /** series judged per window (layers × statistics with a threshold) */
  readonly seriesPerWindow: number;
  /** windows with any series beyond its threshold (today's union) */
  readonly anySeries: number;
  /** windows on which the model alarm was on */
  readonly alarm: number;
}

export interface StreamResult {
  readonly seed: number;
  readonly stream: 'full' | 'partial';
  readonly lengths: readonly LengthResult[];
  /** full stream, per budget: false pages (new alarm spells of the union of the windows), per window length too, and as the simulation predicted them */
  readonly budgets?: readonly BudgetResult[];
}

export interface BudgetResult {
  readonly batches: number;
  readonly streamBatches: number;
  readonly level: number;
  readonly spells: number;
  readonly byLength: readonly number[];
  readonly predicted: readonly number[];
}

export interface CleanStudy {
  readonly options: Omit<CleanStudyOptions, 'progress'>;
  readonly layers: readonly string[];
  readonly streams: readonly StreamResult[];
  readonly elapsedMs: number;
}

export async function runCleanStudy(o: CleanStudyOptions): Promise<CleanStudy> {
  const started = Date.now();
  const say = o.progress ?? (() => undefined);
  const digits = loadDigits();
  const split = splitDigitsRandomly(digits, 0.5, 1);
  const dir = mkdtempSync(join(tmpdir(), 'ckawatch-clean-'));
  const referencePath = join(dir, 'reference.npy');
  writeNpyFile(referencePath, gather(digits, split.reference), [split.reference.length, 1, 28, 28]);
  const logger = { ...silentLogger, warn: (f: object, m?: string) => say(`warn: ${m} ${JSON.stringify(f)}`) };
  const streams: StreamResult[] = [];
  let layers: readonly string[] = [];
  try {
    for (const seed of o.seeds) {
      // A fresh model per seed: the pool lives in it.
      const model = await TappedModel.open({ path: o.modelPath, layers: o.layers, providers: ['cpu'], variant: 'auto', logger });
      try {
        layers = model.layers;
        const calibrator = await Calibrator.open({
          model,
          path: referencePath,
          n: o.n,
          m: o.n,
          scheme: 'pool',
          ...REFERENCE_DEFAULTS,
          maxCacheBytes: 2 ** 31,
          seed,
          batches: o.calibrationBatches,
          timeLimitMs: 30 * 60_000,
          falseAlarmRate: o.falseAlarmRate,
          alarmRate: o.alarmRate,
          ...(o.budget ? { spellSteps: SPELL_STEPS } : {}),
          overrides: {},
          logger,
          now: Date.now,
        });
        await calibrator.prepare(null);
        const summaries = calibrator.state.pool!.layers.map((l) => l.summary);
        const prng = createPrng(seed * 7919 + 13);
        for (const stream of o.partial ? (['full', 'partial'] as const) : (['full'] as const)) {
          const batches: DriftSums[][] = [];
          for (let b = 0; b < o.cleanBatches; b++) {
            const size = stream === 'full' ? o.n : 8 + prng.below(o.n - 7);
            const picked = new Set<number>();
            while (picked.size < size) picked.add(split.production[prng.below(split.production.length)]!);
            const { grams } = await model.run(gather(digits, [...picked]), size);
            batches.push(grams.map((g, l) => (isPoolBatch(g) ? driftPooled(g, summaries[l]!) : EMPTY_DRIFT)));
          }
          say(`seed ${seed} ${stream}: ${o.cleanBatches} clean batches scored`);
          const calibration = calibrator.calibration!;
          const lengths = o.lengths.map((length) => {
            const series: Record<Statistic, number> = { cka: 0, mmd2_linear: 0, mmd2_rbf: 0 };
            let anySeries = 0;
            let alarm = 0;
            let seriesPerWindow = 0;
            for (let w = 0; w < o.windows; w++) {
              const sums = layers.map(() => EMPTY_DRIFT);
              for (let k = 0; k < length; k++) {
                const batch = batches[prng.below(batches.length)]!;
                batch.forEach((s, l) => (sums[l] = addDrift(sums[l]!, s)));
              }
              let any = false;
              seriesPerWindow = 0;
              layers.forEach((layer, l) => {
                const thresholds = calibrator.thresholds(layer, sums[l]!);
                const values = statisticValues(sums[l]!);
                for (const statistic of STATISTICS) {
                  const t = thresholds[statistic];
                  const v = values[statistic];
                  if (t === undefined || v === null) continue;
                  seriesPerWindow += 1;
                  if (isDrifting(statistic, v, t)) {
                    series[statistic] += 1;
                    any = true;
                  }
                }
              });
              if (any) anySeries += 1;
              if (judgeWindow(calibration, layers.map((layer, l) => ({ layer, sums: sums[l]! }))).alarm?.on) alarm += 1;
            }
            return { length, windows: o.windows, series, seriesPerWindow, anySeries, alarm };
          });
          const budgets = stream === 'full' && o.budget ? o.budget.budgets.map((budget) => budgetRun(calibration, layers, batches, budget, o.budget!, prng)) : undefined;
          for (const b of budgets ?? []) say(`seed ${seed}: ${b.spells} false pages in ${b.streamBatches} batches (budget: one per ${b.batches}), level ${b.level.toExponential(2)}`);
          streams.push({ seed, stream, lengths, ...(budgets ? { budgets } : {}) });
          const worst = lengths.map((r) => `K=${r.length}: series ${pct(seriesRate(r))} alarm ${pct(r.alarm / r.windows)}`).join(', ');
          say(`seed ${seed} ${stream}: ${worst}`);
        }
      } finally {
        await model.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const { progress: _p, ...options } = o;
  return { options, layers, streams, elapsedMs: Date.now() - started };
}

export const seriesRate = (r: LengthResult, statistic?: Statistic): number =>
  (statistic ? r.series[statistic] * STATISTICS.length : STATISTICS.reduce((a, s) => a + r.series[s], 0)) / (r.seriesPerWindow * r.windows);

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;

/** The clean stream of a budget run: sliding windows of each length, judged after every batch at the budget's level. */
function budgetRun(
  calibration: Calibration,
  layers: readonly string[],
  batches: readonly DriftSums[][],
  budget: number,
  b: NonNullable<CleanStudyOptions['budget']>,
  prng: Prng,
): BudgetResult {
  const level = budgetLevel(calibration.spells!, b.lengths, budget)!;
  const stream = Int32Array.from({ length: b.streamBatches }, () => prng.below(batches.length));
  const longest = Math.max(...b.lengths);
  let spells = 0;
  let wasOn = false;
  const byLength = b.lengths.map(() => 0);
  const wasOnBy = b.lengths.map(() => false);
  for (let t = longest - 1; t < stream.length; t++) {
    const each = b.lengths.map((k) => {
      const sums = layers.map((_, l) => {
        let s = EMPTY_DRIFT;
        for (let j = t - k + 1; j <= t; j++) s = addDrift(s, batches[stream[j]!]![l]!);
        return s;
      });
      return judgeWindow(calibration, layers.map((layer, l) => ({ layer, sums: sums[l]! })), level).alarm?.on === true;
    });
    each.forEach((o, i) => {
      if (o && !wasOnBy[i]) byLength[i] = byLength[i]! + 1;
      wasOnBy[i] = o;
    });
    const on = each.some(Boolean);
    if (on && !wasOn) spells += 1;
    wasOn = on;
  }
  const predicted = b.lengths.map((k) => spellRate(calibration.spells!, k, Math.log(level)) * (stream.length - longest + 1));
  return { batches: budget, streamBatches: stream.length - longest + 1, spells, level, byLength, predicted };
}
