import type { Gauge } from 'prom-client';
import { DRIFT_FIELDS, type DriftSums } from '../cka/drift.js';
import type { WindowMetrics } from './definitions.js';
import type { Logger } from '../util/logger.js';
import { isDrifting, STATISTICS, statisticValues, type Statistic } from '../cka/statistic.js';

/** `field` label of ckawatch_window_sum for each DriftSums field: snake_case, as PromQL users expect. */
export const SUM_FIELD_LABELS: Readonly<Record<(typeof DRIFT_FIELDS)[number], string>> = {
  batches: 'batches',
  samples: 'samples',
  axr: 'axr',
  axx: 'axx',
  arr: 'arr',
  mmdLinear: 'mmd_linear',
  mmdRbf: 'mmd_rbf',
  ckaWeight: 'cka_weight',
  mmdWeight: 'mmd_weight',
};

/** One layer's sums over one window at scrape time, with that window's calibrated thresholds. */
export interface WindowScore {
  readonly layer: string;
  readonly window: string;
  readonly sums: DriftSums;
  /** statistics without a threshold get neither a threshold nor a drift series */
  readonly thresholds?: Readonly<Partial<Record<Statistic, number>>>;
  /** p-values under the calibrated null; statistics without one get no ckawatch_pvalue */
  readonly pValues?: Readonly<Partial<Record<Statistic, number>>>;
}

/** The model alarm on one window (calibration/alarm.ts). */
export interface WindowAlarm {
  readonly window: string;
  readonly on: boolean;
  readonly score: number;
  readonly cause: { readonly layer: string; readonly statistic: Statistic };
}

export type ScoreSource = (nowMs: number) => Iterable<WindowScore>;
export type AlarmSource = (nowMs: number) => Iterable<WindowAlarm>;
/** Additions dropped as late so far, per window (absolute counts, e.g. WindowSet.droppedLate). */
export type LateSource = () => Iterable<{ readonly window: string; readonly count: number }>;

interface Point {
  readonly gauge: Gauge<string>;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/**
 * Turns the window sums into gauge values at scrape time. Everything is computed into a
 * list first and applied only when that succeeded, so a source that throws leaves the last
 * good values in place (logged once per failure streak, counted in
 * ckawatch_collect_errors_total) instead of failing the scrape. Undefined and non-finite
 * values are skipped: the series is absent rather than NaN.
 */
export function createWindowRefresh(
  m: WindowMetrics,
  scores: ScoreSource,
  late: LateSource | undefined,
  now: () => number,
  logger: Logger,
  alarms?: AlarmSource,
): () => void {
  let failing = false;
  return () => {
    let points: Point[];
    let lateCounts: Array<{ window: string; count: number }>;
    try {
      const at = now();
      points = computePoints(m, scores(at));
      if (alarms) points.push(...alarmPoints(m, alarms(at)));
      lateCounts = late === undefined ? [] : [...late()].filter((d) => Number.isFinite(d.count) && d.count >= 0);
    } catch (err) {
      m.collectErrors.inc();
      if (!failing) logger.error({ err }, 'cannot compute window metrics; /metrics serves the last good values until this clears');
      failing = true;
      return;
    }
    if (failing) logger.info({}, 'window metrics computed again');
    failing = false;
    for (const gauge of [m.cka, m.mmd2, m.windowSum, m.threshold, m.drift, m.pValue, m.alarm, m.alarmScore, m.alarmCause]) gauge.reset();
    for (const p of points) p.gauge.set(p.labels, p.value);
    if (late !== undefined) {
      // Counts live in the window set (and its checkpoints); the counter mirrors them.
      m.droppedLate.reset();
      for (const d of lateCounts) m.droppedLate.inc({ window: d.window }, d.count);
    }
  };
}

function computePoints(m: WindowMetrics, entries: Iterable<WindowScore>): Point[] {
  const points: Point[] = [];
  const push = (gauge: Gauge<string>, labels: Record<string, string>, value: number | null | undefined): void => {
    if (typeof value === 'number' && Number.isFinite(value)) points.push({ gauge, labels, value });
  };
  for (const { layer, window, sums, thresholds, pValues } of entries) {
    for (const field of DRIFT_FIELDS) push(m.windowSum, { layer, window, field: SUM_FIELD_LABELS[field] }, sums[field]);
    const values = statisticValues(sums);
    push(m.cka, { layer, window }, values.cka);
    push(m.mmd2, { layer, window, kernel: 'linear' }, values.mmd2_linear);
    push(m.mmd2, { layer, window, kernel: 'rbf' }, values.mmd2_rbf);
    for (const statistic of STATISTICS) {
      push(m.pValue, { layer, window, statistic }, pValues?.[statistic]);
      const threshold = thresholds?.[statistic];
      if (threshold === undefined || !Number.isFinite(threshold)) continue;
      push(m.threshold, { layer, window, statistic }, threshold);
      const score = values[statistic];
      if (score !== null) push(m.drift, { layer, window, statistic }, isDrifting(statistic, score, threshold) ? 1 : 0);
    }
  }
  return points;
}

function alarmPoints(m: WindowMetrics, alarms: Iterable<WindowAlarm>): Point[] {
  const points: Point[] = [];
  for (const a of alarms) {
    if (!Number.isFinite(a.score)) continue;
    points.push({ gauge: m.alarm, labels: { window: a.window }, value: a.on ? 1 : 0 });
    points.push({ gauge: m.alarmScore, labels: { window: a.window }, value: a.score });
    points.push({ gauge: m.alarmCause, labels: { window: a.window, layer: a.cause.layer, statistic: a.cause.statistic }, value: a.on ? 1 : 0 });
  }
  return points;
}
