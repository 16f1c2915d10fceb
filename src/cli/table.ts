import type { ScoreRow } from '../page/rows.js';

const num = (v: number | null, digits: number): string => (v === null ? '—' : v.toFixed(digits));

/** A per-layer text table of the current scores, one row per layer and window. */
export function scoreTable(rows: readonly ScoreRow[]): string {
  const width = Math.min(40, Math.max(5, ...rows.map((r) => r.layer.length)));
  const head = `${'layer'.padEnd(width)}  window   cka      mmd²(lin)   mmd²(rbf)  samples`;
  const lines = rows.map(
    (r) =>
      `${r.layer.slice(-width).padEnd(width)}  ${r.window.padEnd(7)}  ${num(r.cka, 4).padStart(6)}  ${num(r.mmd2Linear, 3).padStart(10)}  ${num(r.mmd2Rbf, 5).padStart(10)}  ${String(r.samples).padStart(7)}`,
  );
  return [head, '-'.repeat(head.length), ...lines].join('\n');
}
