import { judgeWindow } from '../calibration/alarm.js';
import { driftScores, type DriftSums } from '../cka/drift.js';
import type { Statistic } from '../cka/statistic.js';
import type { WindowAlarm, WindowScore } from '../metrics/index.js';
import type { ScoreRow } from '../page/rows.js';
import type { Calibrator } from './reference.js';

/** Every window's series with thresholds and p-values, and each window's model alarm: what a scrape exports. */
export interface Judged {
  readonly scores: WindowScore[];
  readonly alarms: JudgedAlarm[];
}

/** A window's alarm with its cause's p-value (the metrics export the rest). */
export type JudgedAlarm = WindowAlarm & { readonly cause: WindowAlarm['cause'] & { readonly pValue: number } };

/**
 * Judges every window at one instant: per layer and statistic the threshold (static ones
 * where configured) and the p-value, and per window the model alarm over all of them.
 * Before calibration there are sums only.
 */
export function judgeWindows(calibrator: Calibrator | null, windowSums: readonly { layer: string; window: string; sums: DriftSums }[]): Judged {
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
    for (const [window, sums] of byWindow) {
      const { pValues: series, alarm } = judgeWindow(calibration, sums);
      for (const p of series) pValues.set(`${window}\u0000${p.layer}`, { ...pValues.get(`${window}\u0000${p.layer}`), [p.statistic]: p.pValue });
      if (alarm) alarms.push({ window, on: alarm.on, score: alarm.score, cause: alarm.cause });
    }
  }
  const scores = windowSums.map((s) => ({
    ...s,
    thresholds: calibrator?.thresholds(s.layer, s.sums) ?? {},
    pValues: pValues.get(`${s.window}\u0000${s.layer}`) ?? {},
  }));
  return { scores, alarms };
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
