import { STATISTICS, type Statistic } from '../cka/statistic.js';
import type { Verdict } from '../compare/verdict.js';

/*
 * How `compare --data-b` reports its verdict: columns of the JSON's drift rows, a
 * `verdict` object for the model, and a table on stdout.
 */

const num = (v: number | null, digits: number): string => (v === null ? '—' : v.toFixed(digits));
const pText = (p: number | null): string => (p === null ? '—' : p < 1e-4 ? p.toExponential(1) : p.toFixed(4));

/** Per layer, the columns added to its drift row: p_<statistic>, threshold_<statistic>, drift_<statistic>. */
export function verdictColumns(v: Verdict, layer: string): Record<string, number | boolean | null> {
  const out: Record<string, number | boolean | null> = {};
  for (const s of v.series.filter((x) => x.layer === layer)) {
    out[`p_${s.statistic}`] = s.pValue;
    out[`threshold_${s.statistic}`] = s.threshold;
    out[`drift_${s.statistic}`] = s.drift;
  }
  return out;
}

/** The model-level verdict as JSON. */
export function verdictJson(v: Verdict): object {
  return {
    alpha: v.alpha,
    null_batches: v.nullBatches,
    effective_batches: v.effectiveBatches,
    drift: v.alarm?.on ?? false,
    level: v.alarm?.level ?? null,
    score: v.alarm?.score ?? null,
    cause: v.alarm ? { layer: v.alarm.cause.layer, statistic: v.alarm.cause.statistic, p_value: v.alarm.cause.pValue } : null,
    method:
      'p-values from null batches of --data against itself (disjoint rows within each batch), bootstrapped per window length ' +
      '(the daemon\'s calibration); drift per series when p < alpha; the model\'s verdict when the smallest p-value is below a level ' +
      'calibrated jointly over every layer and statistic so that clean data is called drift with probability alpha',
  };
}

/** One line per layer and statistic, then the model's verdict. */
export function verdictTable(v: Verdict): string {
  const width = Math.min(40, Math.max(5, ...v.series.map((s) => s.layer.length)));
  const head = `${'layer'.padEnd(width)}  statistic      value   threshold    p-value  verdict`;
  const lines = v.series.map((s) => {
    const verdict = s.pValue === null ? 'not calibrated' : s.drift ? `DRIFT at ${v.alpha}` : 'no drift';
    const digits = s.statistic === 'mmd2_rbf' ? 5 : 4;
    return `${s.layer.slice(-width).padEnd(width)}  ${s.statistic.padEnd(11)}  ${num(s.value, digits).padStart(9)}  ${num(s.threshold, digits).padStart(10)}  ${pText(s.pValue).padStart(9)}  ${verdict}`;
  });
  const a = v.alarm;
  const model =
    a === null
      ? 'model: no verdict (no series could be calibrated)'
      : `model: ${a.on ? 'DRIFT' : 'no drift'} at ${v.alpha} (smallest p ${pText(a.cause.pValue)} on ${a.cause.layer} ${a.cause.statistic}, ` +
        `level ${pText(a.level)} for ${STATISTICS.length}×${new Set(v.series.map((s) => s.layer)).size} series over ${v.effectiveBatches.toFixed(2)} batches)`;
  return [head, '-'.repeat(head.length), ...lines, model].join('\n');
}

/** Heatmap columns of the drift picture beside cka: each statistic's p-value, outlined where it says drift. */
export function verdictCells(v: Verdict, layers: readonly string[]): { columns: string[]; values: (number | null)[][]; marked: boolean[][] } {
  const of = (layer: string, statistic: Statistic) => v.series.find((s) => s.layer === layer && s.statistic === statistic);
  return {
    columns: STATISTICS.map((s) => `p ${s}`),
    values: layers.map((l) => STATISTICS.map((s) => of(l, s)?.pValue ?? null)),
    marked: layers.map((l) => STATISTICS.map((s) => of(l, s)?.drift ?? false)),
  };
}
