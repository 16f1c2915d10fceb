import { alarmLength, judgeWindow } from '../calibration/alarm.js';
import { budgetLevel, type FalsePageBudget } from '../calibration/budget.js';
import type { Calibration } from '../calibration/calibrate.js';
import { driftScores, type DriftSums } from '../cka/drift.js';
import type { Statistic } from '../cka/statistic.js';
import type { WindowAlarm, WindowScore } from '../metrics/index.js';
import type { ScoreRow } from '../page/rows.js';
import type { Config } from '../config/schema.js';
import type { Calibrator } from './reference.js';

/** Every window's series with thresholds and p-values, and each window's model alarm: what a scrape exports. */
export interface Judged {
  readonly scores: WindowScore[];
  readonly alarms: JudgedAlarm[];
}

/** A window's alarm with its level and its cause's p-value (the metrics export the rest). */
export type JudgedAlarm = WindowAlarm & { readonly level: number; readonly cause: WindowAlarm['cause'] & { readonly pValue: number } };

/**
 * Judges every window at one instant: per layer and statistic the threshold (static ones
 * where configured) and the p-value, and per window the model alarm over all of them.
 * Before calibration there are sums only.
 */
export function judgeWindows(calibrator: Calibrator | null, windowSums: readonly { layer: string; window: string; sums: DriftSums }[], budget?: WindowBudget): Judged {
  const calibration = calibrator?.calibration ?? null;
  const byWindow = new Map<string, { layer: string; sums: DriftSums }[]>();
  for (const s of windowSums) {
    const sums = byWindow.get(s.window);
    if (sums) sums.push(s);
    else byWindow.set(s.window, [s]);
  }
  const pValues = new Map<string, Partial<Record<Statistic, number>>>();
  const alarms: JudgedAlarm[] = [];
  if (calibration) {
    const level = budget ? levelFor(calibration, byWindow, budget) : undefined;
    for (const [window, sums] of byWindow) {
      const { pValues: series, alarm } = judgeWindow(calibration, sums, level);
      for (const p of series) pValues.set(`${window}\u0000${p.layer}`, { ...pValues.get(`${window}\u0000${p.layer}`), [p.statistic]: p.pValue });
      if (alarm) alarms.push({ window, on: alarm.on, score: alarm.score, level: alarm.level, cause: alarm.cause });
    }
  }
  const scores = windowSums.map((s) => ({
    ...s,
    thresholds: calibrator?.thresholds(s.layer, s.sums) ?? {},
    pValues: pValues.get(`${s.window}\u0000${s.layer}`) ?? {},
  }));
  return { scores, alarms };
}

/** A false-page budget, with each window's duration to convert one in time into batches. */
export interface WindowBudget {
  readonly budget: FalsePageBudget;
  readonly windowMs: ReadonlyMap<string, number>;
}

/** The config's false-page budget (alarm.meanTimeBetweenFalseAlarms or alarm.meanBatchesBetweenFalseAlarms), if it has one. */
export function windowBudget(config: Pick<Config, 'alarm' | 'windows'>): WindowBudget | undefined {
  const { meanTimeBetweenFalseAlarms: ms, meanBatchesBetweenFalseAlarms: batches } = config.alarm;
  const budget: FalsePageBudget | undefined = batches !== undefined ? { batches } : ms !== undefined ? { ms } : undefined;
  return budget && { budget, windowMs: new Map(config.windows.map((w) => [w.name, w.duration])) };
}

/**
 * The level at which the windows, together, start a false alarm once per budget. A budget
 * in time is converted at the highest batch rate a window sees now (its effective batches
 * over its duration): the most batches, so the lowest level. Undefined when the calibration
 * has no spell table (made without a budget), or no window holds a batch.
 */
function levelFor(calibration: Calibration, byWindow: ReadonlyMap<string, { sums: DriftSums }[]>, { budget, windowMs }: WindowBudget): number | undefined {
  if (!calibration.spells) return undefined;
  const lengths = [...byWindow].map(([window, sums]) => ({ k: alarmLength(calibration, sums), ms: windowMs.get(window) ?? Number.POSITIVE_INFINITY }));
  const batches = 'batches' in budget ? budget.batches : budget.ms * Math.max(0, ...lengths.map(({ k, ms }) => k / ms));
  return budgetLevel(calibration.spells, lengths.map(({ k }) => k), batches) ?? undefined;
}

/** The judged windows as score rows (page, /api, demo table): each layer's scores, thresholds, p-values and its window's alarm. */
export function scoreRows(judged: Judged): ScoreRow[] {
  const alarms = new Map(judged.alarms.map((a) => [a.window, a]));
  return judged.scores.map(({ layer, window, sums, thresholds, pValues }) => {
    const a = alarms.get(window);
    return {
      layer,
      window,
      ...driftScores(sums),
      samples: sums.samples,
      thresholds: thresholds ?? {},
      pValues: pValues ?? {},
      alarm: a ? { on: a.on, score: a.score, cause: a.cause } : null,
    };
  });
}
