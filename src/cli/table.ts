import type { Statistic } from '../cka/statistic.js';
import type { RowAlarm, ScoreRow } from '../page/rows.js';

const num = (v: number | null | undefined, digits: number): string => (v === null || v === undefined ? '—' : v.toFixed(digits));
const SHORT: Record<Statistic, string> = { cka: 'cka', mmd2_linear: 'lin', mmd2_rbf: 'rbf' };

/** The row's smallest p-value and its statistic, as `0.012 rbf`; — before calibration. */
function smallestP(r: ScoreRow): string {
  const entries = Object.entries(r.pValues ?? {}) as [Statistic, number][];
  if (entries.length === 0) return '—';
  const [statistic, p] = entries.reduce((a, b) => (b[1] < a[1] ? b : a));
  return `${p < 1e-3 ? p.toExponential(0) : p.toFixed(3)} ${SHORT[statistic]}`;
}

/** ALARM on the layer that drives its window's alarm, `on` on the window's other layers. */
function alarmCell(r: ScoreRow): string {
  if (!r.alarm) return '—';
  if (!r.alarm.on) return 'off';
  return r.alarm.cause.layer === r.layer ? `ALARM ${SHORT[r.alarm.cause.statistic]}` : 'on';
}

/**
 * A per-layer text table of the current scores, one row per layer and window: each
 * statistic beside its calibrated threshold (cka alarms below it, MMD² above), the row's
 * smallest p-value, and the window's model alarm.
 */
export function scoreTable(rows: readonly ScoreRow[]): string {
  const width = Math.min(40, Math.max(5, ...rows.map((r) => r.layer.length)));
  const head =
    `${'layer'.padEnd(width)}  window   cka     < thr    mmd²(lin)    > thr  mmd²(rbf)    > thr  ` +
    `p (smallest)  alarm      samples`;
  const lines = rows.map((r) => {
    const t = r.thresholds ?? {};
    return (
      `${r.layer.slice(-width).padEnd(width)}  ${r.window.padEnd(7)}  ${num(r.cka, 4).padStart(6)}  ${num(t.cka, 4).padStart(6)}  ` +
      `${num(r.mmd2Linear, 3).padStart(10)}  ${num(t.mmd2_linear, 3).padStart(7)}  ${num(r.mmd2Rbf, 5).padStart(9)}  ${num(t.mmd2_rbf, 5).padStart(7)}  ` +
      `${smallestP(r).padStart(12)}  ${alarmCell(r).padEnd(9)}  ${String(r.samples).padStart(7)}`
    );
  });
  return [head, '-'.repeat(head.length), ...lines].join('\n');
}

/** When the model alarm first fired, per window (the demo's line under its table). */
export interface FirstAlarm {
  readonly window: string;
  /** seconds since the demo started */
  readonly at: number;
  readonly alarm: RowAlarm;
}

/** Records each window's first alarm among `rows` at `at` seconds into `seen` (kept across calls). */
export function noteFirstAlarms(rows: readonly ScoreRow[], at: number, seen: Map<string, FirstAlarm>): void {
  for (const r of rows) if (r.alarm?.on && !seen.has(r.window)) seen.set(r.window, { window: r.window, at, alarm: r.alarm });
}

/** One line: when and where the model alarm first fired, or that it has not. */
export function firstAlarmLine(seen: ReadonlyMap<string, FirstAlarm>): string {
  if (seen.size === 0) return 'model alarm: not fired yet';
  const parts = [...seen.values()].map(
    (f) => `${f.window} window at t=${f.at.toFixed(0)}s on ${f.alarm.cause.layer} ${f.alarm.cause.statistic} (p ${f.alarm.cause.pValue.toExponential(1)})`,
  );
  return `model alarm first fired: ${parts.join('; ')}`;
}
